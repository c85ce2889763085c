// stsmagic in JupyterLab and Notebook 7: one item showing the Jupyter server's AWS session, and
// a dialog behind it. The server extension (stsmagic.server) holds the sessions; this only asks.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';

import { SessionsDialogBody } from './dialog';
import { SessionItem } from './item';
import { ServerSessions } from './sessions';

const PLUGIN_ID = 'stsmagic:status-item';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "The Jupyter server's AWS session in the status bar, and a dialog to manage it.",
  autoStart: true,
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null) => {
    const sessions = new ServerSessions();
    let open: Promise<unknown> | null = null;
    const openDialog = () => {
      if (open) {
        return;
      }
      const body = new SessionsDialogBody(sessions);
      open = showDialog({
        title: 'AWS sessions of this Jupyter server',
        body,
        buttons: [Dialog.cancelButton({ label: 'Close' })],
        // Enter in a field sends that field, it does not close the dialog.
        defaultButton: -1,
        focusNodeSelector: 'input.jp-stsmagic-code:not([disabled]), .jp-stsmagic-dialog button:not([disabled])'
      }).finally(() => {
        body.dispose();
        open = null;
      });
      void sessions.refresh();
    };
    const item = new SessionItem(sessions, openDialog);

    // Notebook 7 has no status bar: the item sits in its top bar, as jupyter-resource-usage's does.
    if (statusBar && app.name !== 'Jupyter Notebook') {
      statusBar.registerStatusItem(PLUGIN_ID, { item, align: 'left', rank: 100 });
    } else {
      item.addClass('jp-stsmagic-topbar');
      app.shell.add(item, 'top', { rank: 1000 });
    }
    sessions.start();
  }
};

export default plugin;

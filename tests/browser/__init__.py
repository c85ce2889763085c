"""Real JupyterLab in headless Chromium (marker ``browser``)."""

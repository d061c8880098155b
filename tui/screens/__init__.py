"""The app's screens: setup, probe, plan and quotes, plus small dialogs."""

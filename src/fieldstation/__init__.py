"""fieldstation: a self-hosted device-data hub speaking the Astrocast, AWT and Instathings APIs."""

__version__ = "0.1.0"

"""The web pages: login, operator console, station view, family status page and administration, served offline."""

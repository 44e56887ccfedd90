"""Web terminal (pods/exec) and live logs over websockets, with recorded, audited sessions."""

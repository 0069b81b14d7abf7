"""The OpenOMS view of an Allegro order: pure Python, standard library only."""

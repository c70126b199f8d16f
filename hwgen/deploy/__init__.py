"""Deployment: Vivado build scripts, Kria/PYNQ board files, the board driver, bitstream build, flashing."""

"""hwgen: camera-to-steering CNN to a verified FPGA dataflow accelerator."""

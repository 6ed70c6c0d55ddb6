"""`revati profile`: run a command on a real NVIDIA GPU with the CUPTI shim and build a profile dataset."""

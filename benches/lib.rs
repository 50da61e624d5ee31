//! Side-by-side benchmarks of fastllm against LiteLLM live in the Python scripts of this folder.

"""Pure domain code: data types, chunking, fusion, prompts, metrics. No I/O."""

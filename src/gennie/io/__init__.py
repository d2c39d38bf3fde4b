"""Reading the user's files: BED intervals, FASTA records, reference genomes."""

"""Pure rendering and parsing functions: masking, tables, dotenv, shell, json, yaml, csv, docker."""

"""The floor under everything: the data cache's folder and its build locks, file replacement, metrics,
BLEU/chrF, plots and FLOP counts. Imports nothing else of minidistil.
"""

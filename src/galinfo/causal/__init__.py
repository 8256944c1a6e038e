"""galinfo.causal"""

"""galinfo.mock"""

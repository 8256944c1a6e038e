"""galinfo.study"""

"""galinfo.data"""

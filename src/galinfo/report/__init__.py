"""galinfo.report"""

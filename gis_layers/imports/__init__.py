"""Importing and exporting layers: reading real files, validating every row, and writing all
or nothing."""

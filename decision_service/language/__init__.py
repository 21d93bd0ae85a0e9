"""The policy language: YAML with positions → document shapes → the plain-data model.

``yamlpos`` reads YAML safely and remembers where every value came from;
``shapes`` holds the cerberus shapes of the documents process owners write;
``parse`` turns checked documents into ``model`` objects; ``cells`` parses one
table cell (a DMN unary test).  Nothing here reads files or evaluates anything.
"""

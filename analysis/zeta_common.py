"""Helpers the analysis scripts share: root attributes and the run's resolved configuration."""
import configparser

import numpy as np


def attr_str(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_str(value[()])
    return str(value)


def read_config(attrs):
    """The run's configuration (root attribute 'config', INI text) or an empty parser."""
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",))
    if "config" in attrs:
        try:
            cp.read_string(attr_str(attrs["config"]))
        except configparser.Error:
            pass
    return cp


def cfg_get(cp, section, key, default=""):
    try:
        return cp.get(section, key)
    except (configparser.Error, KeyError):
        return default


def cfg_float(cp, section, key, default):
    try:
        return float(cfg_get(cp, section, key, default))
    except ValueError:
        return default

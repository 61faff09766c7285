"""The plugin host: hook specifications and the pluggy-backed :class:`PluginHost`.

Plugins are found through entry points and called through pluggy's own call loop; see
:mod:`synapse_sdk.host.manager`. Plugin authors import ``hookimpl`` and ``PluginHost``
from :mod:`synapse_sdk.plugins`.
"""

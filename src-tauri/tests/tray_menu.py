"""Prints the labels of a tray icon's menu as a JSON list, as a desktop's panel reads them.

Arguments: the bus address, the item's bus name and object path (as the test's
StatusNotifierWatcher recorded them, see bus_services.py).
"""

import json
import sys

import dbus


def main():
    address, name, path = sys.argv[1:4]
    bus = dbus.bus.BusConnection(address)
    item = bus.get_object(name, path)
    menu_path = item.Get("org.kde.StatusNotifierItem", "Menu", dbus_interface="org.freedesktop.DBus.Properties")
    menu = bus.get_object(name, menu_path)
    _revision, layout = menu.GetLayout(0, -1, dbus.Array([], signature="s"), dbus_interface="com.canonical.dbusmenu")
    _id, _props, children = layout
    print(json.dumps([str(child[1].get("label", "")) for child in children]))


if __name__ == "__main__":
    main()

"""Stand-ins for the desktop's notification daemon and for logind, for the end-to-end test.

On the bus it is started on (the app is told it is both its session and its system bus)
it owns org.freedesktop.Notifications and org.freedesktop.login1, and appends one JSON
line per event to the file named by argv[1]:
- {"app", "summary", "body", "actions"} per Notify call (it says it shows actions);
- {"inhibit": {"what", "who", "why", "mode"}, "lock": N} per logind Inhibit call, whose
  answer is the write end of a pipe, as logind's is: the lock lasts while it is open;
- {"released": N} when every copy of lock N's descriptor is closed;
- {"tray_item": {"name", "path"}} when a tray icon registers with the
  StatusNotifierWatcher it also owns (as a desktop's panel does), so the test can read
  the icon's menu (see tray_menu.py).
Prints "ready" once the names are owned, so the test knows when to start the app.
With "--no-tray" after the log file it leaves the StatusNotifierWatcher out: a desktop
with no tray (GNOME without the AppIndicator extension, many Wayland sessions).
"""

import json
import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
LOGIN1 = "org.freedesktop.login1"
LOGIN1_PATH = "/org/freedesktop/login1"
LOGIN1_MANAGER = "org.freedesktop.login1.Manager"
WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
PROPERTIES = "org.freedesktop.DBus.Properties"


def record(log_path, entry):
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


class Notifications(dbus.service.Object):
    def __init__(self, bus, log_path):
        super().__init__(bus, PATH)
        self.log_path = log_path
        self.next_id = 0

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):
        self.next_id += 1
        record(self.log_path, {"app": str(app_name), "summary": str(summary), "body": str(body),
                               "actions": [str(a) for a in actions]})
        return dbus.UInt32(self.next_id)

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body", "actions"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ["inbound-test", "inbound", "1", "1.2"]

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, _id):
        pass


class Login1Manager(dbus.service.Object):
    def __init__(self, bus, log_path):
        super().__init__(bus, LOGIN1_PATH)
        self.log_path = log_path
        self.next_lock = 0

    @dbus.service.method(LOGIN1_MANAGER, in_signature="ssss", out_signature="h")
    def Inhibit(self, what, who, why, mode):
        self.next_lock += 1
        lock = self.next_lock
        read_end, write_end = os.pipe()
        record(self.log_path, {"inhibit": {"what": str(what), "who": str(who), "why": str(why),
                                           "mode": str(mode)}, "lock": lock})

        def closed(fd, _condition):
            record(self.log_path, {"released": lock})
            os.close(fd)
            return False

        GLib.io_add_watch(read_end, GLib.IO_HUP | GLib.IO_ERR, closed)
        # UnixFd keeps a copy to send; ours closes so only the caller's holds the lock.
        answer = dbus.types.UnixFd(write_end)
        os.close(write_end)
        return answer


class Watcher(dbus.service.Object):
    """The panel's side of tray icons: items register here, and a host is said to show them."""

    def __init__(self, bus, log_path):
        super().__init__(bus, WATCHER_PATH)
        self.log_path = log_path
        self.items = []

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # Either a bus name (the item at the usual path) or an object path on the sender.
        name, path = (sender, str(service)) if service.startswith("/") else (str(service), "/StatusNotifierItem")
        self.items.append(name + path)
        record(self.log_path, {"tray_item": {"name": name, "path": path}})
        self.StatusNotifierItemRegistered(name + path)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, _service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, _item):
        pass

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, _interface, prop):
        return self.GetAll(WATCHER)[prop]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, _interface):
        return {"IsStatusNotifierHostRegistered": True, "ProtocolVersion": dbus.Int32(0),
                "RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s")}


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    tray = "--no-tray" not in sys.argv[2:]
    owned = (NAME, LOGIN1, WATCHER) if tray else (NAME, LOGIN1)
    names = [dbus.service.BusName(n, bus, do_not_queue=True) for n in owned]
    services = [Notifications(bus, sys.argv[1]), Login1Manager(bus, sys.argv[1])]
    if tray:
        services.append(Watcher(bus, sys.argv[1]))
    print("ready", flush=True)
    GLib.MainLoop().run()
    del names, services


if __name__ == "__main__":
    main()

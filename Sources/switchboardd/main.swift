import ZeroMQ

// The broker arrives with the Majordomo issue; until then the daemon proves the
// binding links and reports the libzmq it found.
print("switchboardd: libzmq \(Context.libraryVersion), CURVE \(Context.has("curve") ? "available" : "unavailable")")

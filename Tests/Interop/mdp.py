"""A minimal MDP/0.1 client and worker, written from the 7/MDP text with pyzmq.

Independent of Switchboard's Swift code on purpose: it proves that a peer written
only from the RFC interoperates with the broker.
"""
import time

import zmq

C_CLIENT = b"MDPC01"
W_WORKER = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


class Client:
    """A REQ client (the RFC's synchronous form) or a DEALER client (asynchronous)."""

    def __init__(self, ctx, endpoint, dealer=False):
        self.dealer = dealer
        self.socket = ctx.socket(zmq.DEALER if dealer else zmq.REQ)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def send(self, service, *body):
        frames = [C_CLIENT, service.encode(), *body]
        self.socket.send_multipart(([b""] if self.dealer else []) + frames)

    def recv(self, timeout_ms=5000):
        if not self.socket.poll(timeout_ms):
            return None
        frames = self.socket.recv_multipart()
        if self.dealer:
            assert frames[0] == b"", frames
            frames = frames[1:]
        assert frames[0] == C_CLIENT, frames
        return frames[1].decode(), frames[2:]

    def request(self, service, *body, timeout_ms=5000):
        self.send(service, *body)
        return self.recv(timeout_ms)


class Worker:
    """A DEALER worker with the RFC's heartbeat dialog."""

    def __init__(self, ctx, endpoint, service, heartbeat_ms=250, liveness=3):
        self.ctx, self.endpoint, self.service = ctx, endpoint, service
        self.heartbeat_ms, self.liveness = heartbeat_ms, liveness
        self.socket = None
        self.connect()

    def connect(self):
        if self.socket is not None:
            self.socket.close(0)
        self.socket = self.ctx.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(self.endpoint)
        self.send(READY, self.service.encode())
        self.broker_expiry = time.monotonic() + self.heartbeat_ms * self.liveness / 1000

    def send(self, command, *frames):
        self.socket.send_multipart([b"", W_WORKER, command, *frames])
        self.next_heartbeat = time.monotonic() + self.heartbeat_ms / 1000

    def recv(self, timeout_ms):
        """Returns (client, body) for the next REQUEST, or None when timeout_ms passes."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            if self.socket.poll(self.heartbeat_ms):
                frames = self.socket.recv_multipart()
                self.broker_expiry = time.monotonic() + self.heartbeat_ms * self.liveness / 1000
                assert frames[0] == b"" and frames[1] == W_WORKER, frames
                command = frames[2]
                if command == REQUEST:
                    assert frames[4] == b"", frames
                    return frames[3], frames[5:]
                if command == DISCONNECT:
                    self.connect()
            elif time.monotonic() > self.broker_expiry:
                self.connect()
            if time.monotonic() >= self.next_heartbeat:
                self.send(HEARTBEAT)
        return None

    def reply(self, client, *body):
        self.send(REPLY, client, b"", *body)

    def close(self):
        self.send(DISCONNECT)
        self.socket.close(0)

"""Interop: peers written from the 7/MDP and 8/MMI texts in Python, through a real
spawned switchboardd."""
import threading

from mdp import Client, Worker


def serve(ctx, endpoint, service, transform, stop, count):
    worker = Worker(ctx, endpoint, service)
    while not stop.is_set():
        request = worker.recv(100)
        if request is not None:
            client, body = request
            worker.reply(client, *[transform(frame) for frame in body])
            count[0] += 1
    worker.close()


def start_workers(ctx, endpoint, specs):
    stop = threading.Event()
    threads, counts = [], []
    for service, transform in specs:
        count = [0]
        thread = threading.Thread(target=serve, args=(ctx, endpoint, service, transform, stop, count), daemon=True)
        thread.start()
        threads.append(thread)
        counts.append(count)
    return stop, threads, counts


def wait_for_service(client, service):
    for _ in range(200):
        if client.request("mmi.service", service.encode()) == ("mmi.service", [b"200"]):
            return
    raise AssertionError(f"{service} never registered")


def test_req_and_dealer_clients_with_python_workers(daemon, ctx):
    stop, threads, counts = start_workers(ctx, daemon.endpoint, [
        ("upper", bytes.upper), ("upper", bytes.upper), ("reverse", lambda b: b[::-1]),
    ])
    try:
        req = Client(ctx, daemon.endpoint)
        wait_for_service(req, "upper")
        wait_for_service(req, "reverse")
        for i in range(40):
            assert req.request("upper", b"street light %d" % i, b"") == ("upper", [b"STREET LIGHT %d" % i, b""])
            assert req.request("reverse", b"abc") == ("reverse", [b"cba"])

        dealer = Client(ctx, daemon.endpoint, dealer=True)
        for i in range(100):
            dealer.send("upper", b"pothole %d" % i)
        replies = {tuple(dealer.recv()[1]) for _ in range(100)}
        assert replies == {(b"POTHOLE %d" % i,) for i in range(100)}
        assert counts[0][0] > 0 and counts[1][0] > 0, "both upper workers should have served"
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


def test_mmi(daemon, ctx):
    client = Client(ctx, daemon.endpoint)
    assert client.request("mmi.service", b"nobody") == ("mmi.service", [b"404"])
    assert client.request("mmi.other", b"x") == ("mmi.other", [b"501"])


def test_reserved_service_worker_is_disconnected(daemon, ctx):
    import zmq
    socket = ctx.socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(daemon.endpoint)
    socket.send_multipart([b"", b"MDPW01", b"\x01", b"sb.ingest"])
    assert socket.poll(5000), "expected a DISCONNECT"
    assert socket.recv_multipart() == [b"", b"MDPW01", b"\x05"]


def test_daemon_stops_cleanly(daemon):
    assert daemon.stop() == 0

//! WebSocket traffic at a chosen rate on loopback, for measuring live
//! capture (`scripts/measure-live`): a tungstenite server and client in one
//! process; the client sends small masked text messages, each in a TCP
//! segment of its own (Nagle off), at a steady rate for a number of
//! seconds, then closes the connection properly.
//!
//! ```text
//! cargo run --release --example ws_flood -- PORT MESSAGES_PER_SECOND SECONDS [SIZE]
//! ```
//!
//! Prints one line: messages sent, seconds taken, the rate achieved.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, rate, seconds, rest @ ..] = args.as_slice() else {
        return Err("usage: ws_flood PORT MESSAGES_PER_SECOND SECONDS [SIZE]".into());
    };
    let port: u16 = port.parse()?;
    let rate: f64 = rate.parse()?;
    let seconds: f64 = seconds.parse()?;
    let size: usize = rest.first().map_or(Ok(32), |size| size.parse())?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let server = std::thread::spawn(move || -> Result<u64, tungstenite::Error> {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut socket = tungstenite::accept(stream).map_err(|err| match err {
            tungstenite::HandshakeError::Failure(err) => err,
            tungstenite::HandshakeError::Interrupted(_) => tungstenite::Error::ConnectionClosed,
        })?;
        let mut received = 0u64;
        loop {
            match socket.read() {
                Ok(Message::Text(_)) => received += 1,
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return Ok(received),
                Err(err) => return Err(err),
            }
        }
    });
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    let (mut socket, _) = tungstenite::client(format!("ws://127.0.0.1:{port}/flood"), stream)?;
    let text = "x".repeat(size);
    let started = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    while started.elapsed() < duration {
        // Messages due by now at the chosen rate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            socket.send(Message::text(text.as_str()))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let taken = started.elapsed().as_secs_f64();
    socket.close(None)?;
    loop {
        match socket.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(err) => return Err(err.into()),
        }
    }
    let received = server.join().map_err(|_| "the server thread panicked")??;
    #[allow(clippy::cast_precision_loss)]
    let achieved = sent as f64 / taken;
    println!("sent {sent} received {received} seconds {taken:.3} rate {achieved:.0}");
    Ok(())
}

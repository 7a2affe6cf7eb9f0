// A minimal SMTP server whose behaviour a test flips between runs (tests/TestHelpers.psm1: New-OmrFlip).
using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
namespace OmrTest {
    /// A minimal SMTP server: Mode "open" accepts every RCPT, "closed" refuses it with 550, "shutout"
    /// greets 554 (the tester's address is blocked), "refused" answers 550 to EHLO, HELO and MAIL,
    /// "blocked" refuses every RCPT because of the client; Stop() closes the port.
    public sealed class FlipSmtp : IDisposable {
        private readonly TcpListener _listener;
        private readonly Thread _thread;
        private volatile bool _stopped;
        public volatile string Mode = "open";
        public FlipSmtp(string address, int port) {
            _listener = new TcpListener(IPAddress.Parse(address), port);
            _listener.Start();
            _thread = new Thread(Loop) { IsBackground = true };
            _thread.Start();
        }
        private void Loop() {
            while (!_stopped) {
                TcpClient c;
                try { c = _listener.AcceptTcpClient(); } catch { return; }
                new Thread(() => Serve(c)) { IsBackground = true }.Start();
            }
        }
        private void Serve(TcpClient c) {
            using (c) {
                try {
                    c.ReceiveTimeout = 10000;
                    var s = c.GetStream();
                    var r = new StreamReader(s, Encoding.ASCII);
                    var w = new StreamWriter(s, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
                    var mode = Mode;
                    w.WriteLine(mode == "shutout" ? "554 5.7.1 Access denied for your address" : "220 flip.test ESMTP");
                    string line;
                    while ((line = r.ReadLine()) != null) {
                        var cmd = line.Length >= 4 ? line.Substring(0, 4).ToUpperInvariant() : line.ToUpperInvariant();
                        if (mode == "shutout" && cmd != "QUIT") w.WriteLine("503 5.5.1 no SMTP service for you");
                        else if (mode == "refused" && (cmd == "EHLO" || cmd == "HELO" || cmd == "MAIL")) w.WriteLine("550 5.7.1 Access denied for your address");
                        else if (cmd == "EHLO" || cmd == "HELO") w.WriteLine("250 flip.test");
                        else if (cmd == "MAIL") w.WriteLine("250 2.1.0 ok");
                        else if (cmd == "RCPT") w.WriteLine(mode == "open" ? "250 2.1.5 ok"
                            : mode == "blocked" ? "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied" : "550 5.7.1 Relaying denied");
                        else if (cmd == "RSET" || cmd == "NOOP") w.WriteLine("250 ok");
                        else if (cmd == "QUIT") { w.WriteLine("221 bye"); return; }
                        else if (cmd == "DATA") w.WriteLine("554 5.7.1 no data here");
                        else w.WriteLine("502 5.5.2 not implemented");
                    }
                } catch { }
            }
        }
        public void Stop() { _stopped = true; try { _listener.Stop(); } catch { } }
        public void Dispose() { Stop(); }
    }
}

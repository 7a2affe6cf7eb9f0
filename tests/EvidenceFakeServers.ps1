# Dot-sourced by the Evidence*/Notice* Pester files: in-process fake IMAP and SMTP servers on 127.0.0.1
# (random port) that refuse every login and record what the client sent, base64 tokens decoded, so a
# test can prove a password was really sent before it checks that the password leaked nowhere.
if (-not ('OmrTest.FakeMailServer' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace OmrTest
{
    public sealed class FakeMailServer : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly StringBuilder _received = new StringBuilder();
        private readonly string _kind;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private int _logins;

        public int Port { get; private set; }
        /// <summary>Every line the client sent, with base64 tokens also shown decoded (NUL as space).</summary>
        public string Received { get { lock (_received) return _received.ToString(); } }
        /// <summary>LOGIN / AUTHENTICATE (IMAP) or AUTH (SMTP) commands seen.</summary>
        public int Logins { get { return Volatile.Read(ref _logins); } }

        public static FakeMailServer StartImap() { return new FakeMailServer("imap"); }
        public static FakeMailServer StartSmtp() { return new FakeMailServer("smtp"); }

        private FakeMailServer(string kind)
        {
            _kind = kind;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            Task.Run(Loop);
        }

        private async Task Loop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(); }
                catch (Exception e) when (e is SocketException || e is ObjectDisposedException || e is InvalidOperationException) { return; }
                var ignored = Task.Run(() => Serve(client));
            }
        }

        private async Task Serve(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var reader = new StreamReader(stream, Encoding.ASCII);
                    var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
                    await writer.WriteAsync(_kind == "imap" ? "* OK [CAPABILITY IMAP4rev1] fake IMAP, no STARTTLS\r\n" : "220 fake ESMTP, no STARTTLS\r\n");
                    string line;
                    while ((line = await reader.ReadLineAsync()) != null)
                    {
                        Record(line);
                        var reply = _kind == "imap" ? Imap(line) : Smtp(line);
                        await writer.WriteAsync(reply);
                        if (reply.StartsWith("221") || reply.StartsWith("* BYE")) return;
                    }
                }
                catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException) { /* the client hung up */ }
            }
        }

        private void Record(string line)
        {
            lock (_received)
            {
                _received.Append(line).Append('\n');
                foreach (var token in line.Split(' '))
                {
                    if (token.Length < 8 || token.Length % 4 != 0) continue;
                    try { _received.Append("[base64] ").Append(Encoding.UTF8.GetString(Convert.FromBase64String(token)).Replace('\0', ' ')).Append('\n'); }
                    catch (FormatException) { /* not base64 */ }
                }
            }
        }

        private string Imap(string line)
        {
            var parts = line.Split(' ');
            var tag = parts[0];
            var command = parts.Length > 1 ? parts[1].ToUpperInvariant() : string.Empty;
            switch (command)
            {
                case "CAPABILITY": return "* CAPABILITY IMAP4rev1\r\n" + tag + " OK done\r\n";
                case "LOGIN":
                case "AUTHENTICATE":
                    Interlocked.Increment(ref _logins);
                    return tag + " NO [AUTHENTICATIONFAILED] Invalid credentials\r\n";
                case "LOGOUT": return "* BYE\r\n" + tag + " OK bye\r\n";
                default: return tag + " BAD unknown command\r\n";
            }
        }

        private string Smtp(string line)
        {
            var verb = line.Split(' ')[0].ToUpperInvariant();
            switch (verb)
            {
                case "EHLO": return "250-fake\r\n250 AUTH PLAIN LOGIN\r\n";
                case "AUTH":
                    Interlocked.Increment(ref _logins);
                    return "535 5.7.8 Authentication credentials invalid\r\n";
                case "QUIT": return "221 bye\r\n";
                default: return "250 ok\r\n";
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
'@
}

# All the text a set of pipeline records carries: objects (formatted and as JSON), error records with
# their exceptions (ToString: type, message, inner exceptions, stack), details and targets, and the
# messages of warning, verbose, debug and information records.
function Get-OmrTestRecordText {
    param([object[]] $Records)
    $sb = [System.Text.StringBuilder]::new()
    foreach ($r in $Records) {
        if ($null -eq $r) { continue }
        switch ($r) {
            { $_ -is [System.Management.Automation.ErrorRecord] } {
                [void]$sb.AppendLine(($r | Out-String)).AppendLine($r.ToString()).AppendLine($r.FullyQualifiedErrorId)
                if ($r.ErrorDetails) { [void]$sb.AppendLine($r.ErrorDetails.Message).AppendLine($r.ErrorDetails.RecommendedAction) }
                [void]$sb.AppendLine(($r.TargetObject | Out-String)).AppendLine(($r.CategoryInfo | Out-String))
                $ex = $r.Exception
                if ($ex) { [void]$sb.AppendLine($ex.ToString()) }
                while ($ex) {
                    [void]$sb.AppendLine($ex.GetType().FullName).AppendLine($ex.Message)
                    foreach ($k in $ex.Data.Keys) { [void]$sb.AppendLine("$k=$($ex.Data[$k])") }
                    $ex = $ex.InnerException
                }
                break
            }
            { $_ -is [System.Management.Automation.InformationRecord] } { [void]$sb.AppendLine(($r.MessageData | Out-String)); break }
            { $_ -is [System.Management.Automation.InformationalRecord] } { [void]$sb.AppendLine($r.Message); break }
            default {
                [void]$sb.AppendLine(($r | Out-String)).AppendLine(($r | Format-List * -Force | Out-String))
                [void]$sb.AppendLine(($r | ConvertTo-Json -Depth 8 -WarningAction SilentlyContinue))
            }
        }
    }
    $sb.ToString()
}

# The text of every file under a folder, read as UTF-8 and as Latin-1 (whatever the encoding, a plain
# ASCII secret shows up).
function Get-OmrTestFileText {
    param([string[]] $Path)
    $sb = [System.Text.StringBuilder]::new()
    foreach ($p in $Path) {
        if (-not (Test-Path -LiteralPath $p)) { continue }
        foreach ($f in Get-ChildItem -LiteralPath $p -Recurse -File -Force) {
            $bytes = [IO.File]::ReadAllBytes($f.FullName)
            [void]$sb.AppendLine($f.FullName).AppendLine([Text.Encoding]::UTF8.GetString($bytes)).AppendLine([Text.Encoding]::Latin1.GetString($bytes))
        }
    }
    $sb.ToString()
}

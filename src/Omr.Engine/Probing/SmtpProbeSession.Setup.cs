using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Probing.Battery;

namespace Omr.Engine.Probing
{
    /// <summary>Session set-up: the greeting, EHLO (HELO fallback) and STARTTLS, and the name announced.</summary>
    public sealed partial class SmtpProbeSession
    {
        /// <summary>Greeting, EHLO/HELO, STARTTLS. False when the session cannot go on.</summary>
        private async Task<bool> OpenAsync(SmtpConnection conn, CancellationToken ct, Action<string> stage)
        {
            SmtpReply greeting;
            try
            {
                greeting = await conn.ReadReplyAsync(ct, isGreeting: true).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex) when (ex.Kind == SmtpFailureKind.ProtocolViolation && _facts.Greeting is null)
            {
                throw new SmtpSessionException(SmtpFailureKind.NotSmtp, ex.Message, ex);
            }
            _facts.GreetingBytesSeen = true;
            if (_facts.Greeting is null || !greeting.IsPositive) _facts.Greeting = greeting;
            _banner ??= Transcript.Sanitize(string.Join(" ", greeting.Lines));
            if (greeting.Code != 220)
            {
                await SmtpExchange.QuitAsync(conn, ct).ConfigureAwait(false);
                return false;
            }

            var helo = HeloName(conn);
            var ext = await HelloAsync(conn, helo, ct, stage).ConfigureAwait(false);
            if (ext is null) return false;
            _extensions = ext;

            if (conn.IsTls)
            {
                _tls = conn.Tls;
                return true;
            }
            bool offered = HasExtension("STARTTLS");
            if (_settings.Tls == TlsMode.None || _plainOnly)
                return true;
            if (!offered)
            {
                if (_settings.Tls == TlsMode.Required)
                {
                    _facts.TlsProblem = "TLS is required (-Tls Required) but the server does not offer STARTTLS.";
                    await SmtpExchange.QuitAsync(conn, ct).ConfigureAwait(false);
                    return false;
                }
                return true;
            }
            stage("STARTTLS");
            await conn.SendAsync("STARTTLS", ct).ConfigureAwait(false);
            var st = await conn.ReadReplyAsync(ct).ConfigureAwait(false);
            if (st.Code != 220)
            {
                if (st.Code == 421) throw SmtpExchange.Closing(st);
                if (_settings.Tls == TlsMode.Required)
                {
                    _facts.TlsProblem = "TLS is required (-Tls Required) but STARTTLS was refused: " + st + ".";
                    await SmtpExchange.QuitAsync(conn, ct).ConfigureAwait(false);
                    return false;
                }
                _tlsNote = "STARTTLS refused: " + Transcript.Sanitize(st.ToString());
                return true;
            }
            _tls = await conn.StartTlsAsync(_target.Host ?? _target.Address.ToString(), ct).ConfigureAwait(false);
            // RFC 3207: forget what was learnt before TLS and say EHLO again.
            var afterTls = await HelloAsync(conn, helo, ct, stage).ConfigureAwait(false);
            if (afterTls is null) return false;
            _extensions = afterTls;
            return true;
        }

        /// <summary>EHLO, falling back to HELO when EHLO is refused. The extensions, or null when the session cannot go on.</summary>
        private async Task<string[]?> HelloAsync(SmtpConnection conn, string helo, CancellationToken ct, Action<string> stage)
        {
            stage("EHLO");
            if (conn.HasPendingData)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, "the server sent more than its greeting before EHLO was sent (a reply to no command)");
            await conn.SendAsync("EHLO " + helo, ct).ConfigureAwait(false);
            // A huge EHLO list is read and dropped past the line bound, but the extensions the
            // battery depends on are still noticed wherever they are in it.
            var late = new List<string>();
            var ehlo = await conn.ReadReplyAsync(ct, false, line =>
            {
                var k = Keyword(line.Trim());
                if (late.Count < 16 && Array.IndexOf(KnownExtensions, k) >= 0 && !late.Any(l => Keyword(l) == k)) late.Add(Transcript.Sanitize(line.Trim()));
            }).ConfigureAwait(false);
            if (ehlo.Code == 421) throw SmtpExchange.Closing(ehlo);
            // EHLO succeeds with 250 only (RFC 5321 4.3.2); another positive code answers some other command.
            if (ehlo.IsPositive && ehlo.Code != 250)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"'{Transcript.Sanitize(ehlo.ToString())}' cannot answer EHLO");
            if (ehlo.IsPositive && ehlo.Lines.Count > 0 && _ehloName is null)
            {
                var name = FirstWord(ehlo.Lines[0].Trim());
                if (name != null && Names.IsHostToken(name)) _ehloName = name;
                _ehloLine ??= Transcript.Sanitize(ehlo.Lines[0].Trim());
            }
            if (ehlo.IsPositive)
                return ehlo.Lines.Skip(1).Select(l => Transcript.Sanitize(l.Trim())).Where(l => l.Length > 0).Concat(late).ToArray();
            stage("HELO");
            await conn.SendAsync("HELO " + helo, ct).ConfigureAwait(false);
            var h = await conn.ReadReplyAsync(ct).ConfigureAwait(false);
            if (h.Code == 421) throw SmtpExchange.Closing(h);
            if (h.IsPositive && h.Code != 250)
                throw new SmtpSessionException(SmtpFailureKind.OutOfStep, $"'{Transcript.Sanitize(h.ToString())}' cannot answer HELO");
            if (h.IsPositive) return Array.Empty<string>();
            _facts.SessionRefusal = h;
            await SmtpExchange.QuitAsync(conn, ct).ConfigureAwait(false);
            return null;
        }

        /// <summary>EHLO keywords that change how the session is run or what the result reports.</summary>
        private static readonly string[] KnownExtensions = { "PIPELINING", "STARTTLS", "AUTH", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "REQUIRETLS" };

        private bool HasExtension(string keyword)
        {
            foreach (var e in _extensions)
                if (IsKeyword(e, keyword)) return true;
            return false;
        }

        private static string Keyword(string ext)
        {
            var sp = ext.IndexOf(' ');
            return (sp < 0 ? ext : ext.Substring(0, sp)).ToUpperInvariant();
        }

        /// <summary>True when the EHLO line <paramref name="ext"/> is the (upper-case) <paramref name="keyword"/>, with or without parameters; no copy.</summary>
        private static bool IsKeyword(string ext, string keyword)
            => ext.StartsWith(keyword, StringComparison.OrdinalIgnoreCase) && (ext.Length == keyword.Length || ext[keyword.Length] == ' ');

        private string HeloName(SmtpConnection conn)
        {
            if (!string.IsNullOrWhiteSpace(_settings.HeloName)) return _settings.HeloName!;
            var fqdn = LocalHost.Fqdn;
            if (fqdn != null && fqdn.IndexOf('.') > 0 && Names.IsHostToken(fqdn)) return fqdn;
            if (conn.LocalEndPoint is IPEndPoint ep)
                return ep.AddressFamily == AddressFamily.InterNetworkV6 ? "[IPv6:" + ep.Address + "]" : "[" + ep.Address + "]";
            return "[127.0.0.1]";
        }
    }
}

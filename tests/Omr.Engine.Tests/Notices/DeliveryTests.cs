using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit.Security;
using MimeKit;
using Omr;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Xunit;

namespace Omr.Engine.Tests.Notices;

public class DeliveryTests
{
    [Theory]
    [InlineData(MailSecurity.Auto, 25, true, SecureSocketOptions.StartTls)]
    [InlineData(MailSecurity.Auto, 587, true, SecureSocketOptions.StartTls)]
    [InlineData(MailSecurity.Auto, 25, false, SecureSocketOptions.StartTlsWhenAvailable)]
    [InlineData(MailSecurity.Auto, 465, true, SecureSocketOptions.SslOnConnect)]
    [InlineData(MailSecurity.None, 25, true, SecureSocketOptions.None)]
    public void Auto_requires_TLS_whenever_a_credential_would_be_sent(MailSecurity security, int port, bool credential, SecureSocketOptions expected)
        => Assert.Equal(expected, MailServerSettings.Map(security, port, credential));

    /// <summary>An SMTP server that offers AUTH, refuses every credential, and would happily take mail without one.</summary>
    private static async Task ServeAsync(TcpListener listener, ConcurrentQueue<string> commands, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient c;
            try { c = await listener.AcceptTcpClientAsync(ct); } catch (OperationCanceledException) { return; }
            _ = Task.Run(async () =>
            {
                using (c)
                {
                    var s = c.GetStream();
                    using var reader = new StreamReader(s, Encoding.ASCII);
                    async Task Say(string line) => await s.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"));
                    try
                    {
                        await Say("220 fake ESMTP");
                        while (await reader.ReadLineAsync() is string line)
                        {
                            commands.Enqueue(line);
                            var verb = line.Split(' ', ':')[0].ToUpperInvariant();
                            if (verb == "EHLO") { await Say("250-fake"); await Say("250 AUTH PLAIN LOGIN"); }
                            else if (verb == "AUTH") await Say("535 5.7.8 Authentication credentials invalid");
                            else if (verb == "QUIT") { await Say("221 bye"); return; }
                            else if (verb == "DATA") await Say("354 go");
                            else await Say("250 ok");
                        }
                    }
                    catch (IOException) { }
                }
            });
        }
    }

    [Fact]
    public async Task A_refused_login_never_leaves_an_unauthenticated_connection_for_the_next_notice()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var commands = new ConcurrentQueue<string>();
        var server = ServeAsync(listener, commands, stop.Token);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var settings = new SmtpDeliverySettings { Host = "127.0.0.1", Port = port, Security = MailSecurity.None, Credential = new NetworkCredential("noc", "wrong"), Timeout = TimeSpan.FromSeconds(5) };
        var warnings = new ConcurrentQueue<string>();
        settings.Warning = warnings.Enqueue;
        var msg = new MimeMessage();
        msg.From.Add(MailboxAddress.Parse("noc@example.net"));
        msg.To.Add(MailboxAddress.Parse("postmaster@example.com"));
        msg.Subject = "notice";
        msg.Body = new TextPart("plain") { Text = "x" };
        var notice = new ComposedNotice(msg, "n1", "example.com", Array.Empty<RelayEvidence>());
        using (var delivery = new SmtpNoticeDelivery(settings))
        {
            await Assert.ThrowsAsync<MailKit.Security.AuthenticationException>(() => delivery.DeliverAsync(notice, CancellationToken.None));
            await Assert.ThrowsAsync<MailKit.Security.AuthenticationException>(() => delivery.DeliverAsync(notice, CancellationToken.None));
        }
        stop.Cancel();
        listener.Stop();
        await server;
        // Two notices, two connections, each of which tried to log in (MailKit tries PLAIN, then LOGIN).
        Assert.Equal(2, commands.Count(c => c.StartsWith("EHLO", StringComparison.OrdinalIgnoreCase)));
        Assert.True(commands.Count(c => c.StartsWith("AUTH", StringComparison.OrdinalIgnoreCase)) >= 2);
        Assert.DoesNotContain(commands, c => c.StartsWith("MAIL", StringComparison.OrdinalIgnoreCase));
        // -Security None with a credential: each login over clear text is warned about.
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Contains("The credential for 'noc' is sent to the SMTP server 127.0.0.1:" + port + " over a connection that is NOT encrypted (-Security None)", w));
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit.Security;
using Omr;
using Omr.Engine.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

public class MailboxSecurityTests
{
    [Theory]
    [InlineData(MailSecurity.Auto, 143, SecureSocketOptions.StartTls)]
    [InlineData(MailSecurity.Auto, 110, SecureSocketOptions.StartTls)]
    [InlineData(MailSecurity.Auto, 1143, SecureSocketOptions.StartTls)]
    [InlineData(MailSecurity.Auto, 993, SecureSocketOptions.SslOnConnect)]
    [InlineData(MailSecurity.Auto, 995, SecureSocketOptions.SslOnConnect)]
    [InlineData(MailSecurity.StartTlsWhenAvailable, 143, SecureSocketOptions.StartTlsWhenAvailable)]
    [InlineData(MailSecurity.None, 143, SecureSocketOptions.None)]
    public void Auto_never_falls_back_to_clear_text(MailSecurity security, int port, SecureSocketOptions expected)
        => Assert.Equal(expected, MailServerSettings.Map(security, port, withCredential: true));

    [Fact]
    public async Task A_server_without_STARTTLS_never_sees_the_password_under_Auto()
    {
        var (received, ex) = await FakeImap(MailSecurity.Auto, "s3cret-never-sent", warnings: null);
        Assert.Equal(MailSourceErrorKind.Connect, ex.Kind);
        Assert.Contains("STARTTLS", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("s3cret-never-sent", received);
        Assert.DoesNotContain("LOGIN user", received);
    }

    [Theory]
    [InlineData(MailSecurity.None, "(-Security None)")]
    [InlineData(MailSecurity.StartTlsWhenAvailable, "(-Security StartTlsWhenAvailable: the server offered no STARTTLS)")]
    public async Task A_credential_sent_in_clear_text_is_warned_about(MailSecurity security, string why)
    {
        var warnings = new List<string>();
        var (received, ex) = await FakeImap(security, "clear-text-pw-4711", warnings);
        // It was sent (the fake server saw it), and refused: the warning is about a real event.
        Assert.Contains("clear-text-pw-4711", received);
        Assert.Equal(MailSourceErrorKind.Authentication, ex.Kind);
        var w = Assert.Single(warnings);
        Assert.Contains("over a connection that is NOT encrypted " + why, w);
        Assert.DoesNotContain("clear-text-pw-4711", w);
        Assert.DoesNotContain("clear-text-pw-4711", ex.ToString());
    }

    /// <summary>An IMAP server without STARTTLS that refuses every LOGIN; returns what it received and the exception OpenAsync threw.</summary>
    private static async Task<(string Received, MailSourceException Error)> FakeImap(MailSecurity security, string password, List<string>? warnings)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = new StringBuilder();
        var server = Task.Run(async () =>
        {
            using var c = await listener.AcceptTcpClientAsync();
            var s = c.GetStream();
            var hello = Encoding.ASCII.GetBytes("* OK [CAPABILITY IMAP4rev1] fake IMAP without STARTTLS\r\n");
            await s.WriteAsync(hello);
            var buf = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                int n;
                while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
                {
                    var text = Encoding.ASCII.GetString(buf, 0, n);
                    lock (received) received.Append(text);
                    foreach (var line in text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
                    {
                        var tag = line.Split(' ')[0];
                        var reply = line.Contains("CAPABILITY", StringComparison.OrdinalIgnoreCase)
                            ? $"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"
                            : line.Contains("LOGIN", StringComparison.OrdinalIgnoreCase) || line.Contains("AUTHENTICATE", StringComparison.OrdinalIgnoreCase)
                                ? $"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
                                : $"{tag} OK done\r\n";
                        await s.WriteAsync(Encoding.ASCII.GetBytes(reply), cts.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException || e is IOException || e is SocketException) { /* the client hung up, or the 5 s are over */ }
        });
        MailSourceException error;
        try
        {
            var settings = new MailboxSettings
            {
                Host = "127.0.0.1", Port = port, Security = security, Credential = new NetworkCredential("user", password), Timeout = TimeSpan.FromSeconds(5),
                Warning = warnings is null ? null : warnings.Add,
            };
            using var source = MailboxSettings.CreateSource(settings);
            error = await Assert.ThrowsAsync<MailSourceException>(() => source.OpenAsync(CancellationToken.None));
        }
        finally
        {
            listener.Stop();
            await server;
        }
        lock (received) return (received.ToString(), error);
    }
}

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
        => Assert.Equal(expected, MailboxSettings.Map(security, port));

    [Fact]
    public async Task A_server_without_STARTTLS_never_sees_the_password_under_Auto()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = new StringBuilder();
        var server = Task.Run(async () =>
        {
            using var c = await listener.AcceptTcpClientAsync();
            var s = c.GetStream();
            var hello = Encoding.ASCII.GetBytes("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] fake IMAP without STARTTLS\r\n");
            await s.WriteAsync(hello);
            var buf = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                int n;
                while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
                {
                    var text = Encoding.ASCII.GetString(buf, 0, n);
                    received.Append(text);
                    foreach (var line in text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
                    {
                        var tag = line.Split(' ')[0];
                        var reply = line.Contains("CAPABILITY", StringComparison.OrdinalIgnoreCase)
                            ? $"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n{tag} OK done\r\n"
                            : $"{tag} OK done\r\n";
                        await s.WriteAsync(Encoding.ASCII.GetBytes(reply), cts.Token);
                    }
                }
            }
            catch (Exception) { }
        });
        try
        {
            var settings = new MailboxSettings { Host = "127.0.0.1", Port = port, Credential = new NetworkCredential("user", "s3cret-never-sent"), Timeout = TimeSpan.FromSeconds(5) };
            using var source = MailboxSettings.CreateSource(settings);
            await Assert.ThrowsAnyAsync<Exception>(() => source.OpenAsync(CancellationToken.None));
        }
        finally
        {
            listener.Stop();
            await server;
        }
        Assert.DoesNotContain("s3cret-never-sent", received.ToString());
        Assert.DoesNotContain("LOGIN user", received.ToString());
    }
}

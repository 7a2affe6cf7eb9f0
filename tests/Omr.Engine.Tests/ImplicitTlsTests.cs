using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Omr.Engine.Probing;
using Xunit;

namespace Omr.Engine.Tests;

/// <summary>Port 465 style implicit TLS: TLS from the first byte, then SMTP inside it.</summary>
public class ImplicitTlsTests
{
    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var req = new CertificateRequest("CN=smtps.omr-lab.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    private static async Task ServeOneAsync(TcpListener listener, X509Certificate2 cert)
    {
        using var client = await listener.AcceptTcpClientAsync();
        using var ssl = new SslStream(client.GetStream());
        await ssl.AuthenticateAsServerAsync(cert);
        using var reader = new StreamReader(ssl, Encoding.ASCII);
        async Task Say(string s) { var b = Encoding.ASCII.GetBytes(s + "\r\n"); await ssl.WriteAsync(b); await ssl.FlushAsync(); }
        await Say("220 smtps.omr-lab.test ESMTP implicit TLS");
        while (await reader.ReadLineAsync() is string line)
        {
            var verb = line.Split(' ', ':')[0].ToUpperInvariant();
            switch (verb)
            {
                case "EHLO": await Say("250-smtps.omr-lab.test"); await Say("250 8BITMIME"); break;
                case "MAIL": await Say("250 2.1.0 Ok"); break;
                case "RCPT": await Say("554 5.7.1 Relay access denied"); break;
                case "RSET": await Say("250 2.0.0 Ok"); break;
                case "QUIT": await Say("221 2.0.0 Bye"); return;
                default: await Say("502 5.5.2 Error"); break;
            }
        }
    }

    [Fact]
    public async Task A_TLS_on_connect_port_is_probed_inside_TLS()
    {
        using var cert = SelfSigned();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var server = ServeOneAsync(listener, cert);
            var settings = new ProbeSettings { Tests = RelayTestCatalog.Select(new[] { "foreign-recipient", "null-sender" }), Timeout = TimeSpan.FromSeconds(10) };
            settings.ImplicitTlsPorts = new HashSet<int> { port };
            var session = new SmtpProbeSession(new ProbeAddress("127.0.0.1", null, "smtps.omr-lab.test", IPAddress.Loopback, port, null), settings);
            var r = await session.RunAsync("omr-test", CancellationToken.None);
            await server;
            Assert.Equal(RelayVerdict.Closed, r.Verdict);
            Assert.StartsWith("TLSv1.", r.Tls);
            Assert.Contains("RemoteCertificate", r.Tls);
            Assert.DoesNotContain(r.Transcript, t => t.Text == "STARTTLS");
            Assert.Equal("smtps.omr-lab.test ESMTP implicit TLS", r.Banner);
        }
        finally { listener.Stop(); }
    }
}

using System.Net;
using System.Net.Sockets;
using Omr.Engine.Probing;
using Omr.Engine.Rules;
using Xunit;

namespace Omr.Engine.Tests.Probing;

/// <summary>Excluded hosts: one result each, and not one connection (issue 19, "Hosts not to test").</summary>
[Collection("lab")]
public class ExclusionScanTests
{
    private readonly LabFixture _fx;

    public ExclusionScanTests(LabFixture fx) => _fx = fx;

    /// <summary>A loopback listener that counts every connection it is offered (and closes it at once).</summary>
    private sealed class CountingListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _connections;

        public CountingListener()
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        using var c = await _listener.AcceptTcpClientAsync();
                        Interlocked.Increment(ref _connections);
                    }
                }
                catch (Exception ex) when (ex is SocketException || ex is ObjectDisposedException) { }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Connections => Volatile.Read(ref _connections);
        public void Dispose() => _listener.Stop();
    }

    private ScanOptions Options(int port, params string[] exclude)
    {
        var o = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { port },
            Probe = new ProbeSettings { Timeout = TimeSpan.FromSeconds(5), HeloName = "probe.omr-test.example" },
            Exclusions = exclude.Select(e => ExclusionRules.Parse(e, "-Exclude")).ToList(),
        };
        o.Probe.Limits.ReplyTimeout = TimeSpan.FromSeconds(2);
        o.Probe.Limits.ConnectTimeout = TimeSpan.FromSeconds(2);
        return o;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.0/8")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task An_excluded_address_gets_its_result_and_no_connection(string entry)
    {
        using var listener = new CountingListener();
        using (var scanner = new RelayScanner(Options(listener.Port, "192.0.2.0/24", entry), CancellationToken.None))
        {
            scanner.AddHost("127.0.0.1", null, "in");
            scanner.Complete();
            var (results, errors) = await ScanEvents.DrainAsync(scanner);
            Assert.Empty(errors);
            var r = Assert.Single(results);
            Assert.Equal((RelayVerdict.Excluded, RelayReasonCode.Excluded), (r.Verdict, r.ReasonCode));
            Assert.Equal($"Not tested: excluded by -Exclude '{entry}'. No connection was made.", r.Reason);
            Assert.Equal(("127.0.0.1", listener.Port, 0), (r.Address, r.Port, r.Connections));
            Assert.Empty(r.Tests);
            Assert.False(string.IsNullOrEmpty(r.ProbeId));
        }
        await Task.Delay(300);
        Assert.Equal(0, listener.Connections);

        // The same scan without the exclusion connects: the listener sees it, so the count above can fail.
        using (var scanner = new RelayScanner(Options(listener.Port, "192.0.2.0/24"), CancellationToken.None))
        {
            scanner.AddHost("127.0.0.1", null, "in");
            scanner.Complete();
            var (results, _) = await ScanEvents.DrainAsync(scanner);
            Assert.NotEqual(RelayVerdict.Excluded, Assert.Single(results).Verdict);
        }
        // The kernel took the connection; the listener's accept loop may run late on a busy machine.
        for (var waited = 0; listener.Connections == 0 && waited < 5000; waited += 50) await Task.Delay(50);
        Assert.True(listener.Connections > 0);
    }

    [Fact]
    public async Task An_excluded_MX_host_of_a_lab_domain_gets_one_result_per_address_with_its_MX_context()
    {
        // open.omr-lab.test: MX 10 open.mx.omr-lab.test; closed.omr-lab.test is not excluded and is tested.
        using var scanner = new RelayScanner(Options(_fx.Lab.SmtpPort, "open.mx.OMR-LAB.test."), CancellationToken.None);
        scanner.AddDomain("open.omr-lab.test", "a");
        scanner.AddDomain("closed.omr-lab.test", "b");
        scanner.Complete();
        var (results, errors) = await ScanEvents.DrainAsync(scanner);
        Assert.Empty(errors);
        var excluded = Assert.Single(results, r => r.Domain == "open.omr-lab.test");
        Assert.Equal(RelayVerdict.Excluded, excluded.Verdict);
        Assert.Equal(("open.mx.omr-lab.test", _fx.Lab.Server("open").Address, true, 0), (excluded.ComputerName, excluded.Address, excluded.IsMxAddress, excluded.Connections));
        Assert.Contains("open.mx.omr-lab.test", excluded.MxHosts);
        Assert.DoesNotContain(excluded.Transcript, t => t.Direction == "C" || t.Direction == "S");
        var closed = Assert.Single(results, r => r.Domain == "closed.omr-lab.test");
        Assert.Equal(RelayVerdict.Closed, closed.Verdict);
    }
}

using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Omr.Fleet;

/// <summary>An authoritative DNS server for the fleet's zone: MX per domain, A per mail host, NXDOMAIN otherwise.</summary>
internal sealed class FleetDns : IDisposable
{
    private const int Ttl = 300;
    private readonly Dictionary<string, List<DnsRecordBase>> _records = new(StringComparer.OrdinalIgnoreCase);
    private readonly SoaRecord _soa;
    private DnsServer? _server;

    public FleetDns(string apex)
    {
        _soa = new SoaRecord(DomainName.Parse(apex), Ttl, DomainName.Parse("ns." + apex), DomainName.Parse("hostmaster." + apex), 2026010101, 3600, 600, 86400, 30);
        Add(apex, _soa);
    }

    public long Queries;

    private static string Key(DomainName n) => n.ToString(true).TrimEnd('.');

    private void Add(string owner, DnsRecordBase r)
    {
        if (!_records.TryGetValue(owner, out var list)) _records[owner] = list = new List<DnsRecordBase>();
        list.Add(r);
    }

    public void AddMx(string domain, string exchange) => Add(domain, new MxRecord(DomainName.Parse(domain), Ttl, 10, DomainName.Parse(exchange)));

    public void AddA(string host, string address)
    {
        if (_records.TryGetValue(host, out var list) && list.Any(r => r is ARecord)) return;
        Add(host, new ARecord(DomainName.Parse(host), Ttl, IPAddress.Parse(address)));
    }

    public void Start(IPEndPoint endPoint)
    {
        var udp = new UdpServerTransport(endPoint, 5000);
        var tcp = new TcpServerTransport(endPoint, 5000, 10000);
        _server = new DnsServer(udp, tcp);
        _server.QueryReceived += (_, e) =>
        {
            Interlocked.Increment(ref Queries);
            if (e.Query is DnsMessage q) e.Response = Answer(q);
            return Task.CompletedTask;
        };
        _server.ExceptionThrown += (_, _) => Task.CompletedTask;
        _server.Start();
    }

    private DnsMessage Answer(DnsMessage query)
    {
        var response = query.CreateResponseInstance();
        response.IsAuthoritiveAnswer = true;
        if (query.Questions.Count != 1) { response.ReturnCode = ReturnCode.FormatError; return response; }
        var q = query.Questions[0];
        if (!_records.TryGetValue(Key(q.Name), out var list))
        {
            response.ReturnCode = ReturnCode.NxDomain;
            response.AuthorityRecords.Add(_soa);
            return response;
        }
        response.ReturnCode = ReturnCode.NoError;
        var answers = list.Where(r => q.RecordType == RecordType.Any || r.RecordType == q.RecordType).ToList();
        if (answers.Count == 0) { response.AuthorityRecords.Add(_soa); return response; }
        response.AnswerRecords.AddRange(answers);
        foreach (var mx in answers.OfType<MxRecord>())
            if (_records.TryGetValue(Key(mx.ExchangeDomainName), out var glue))
                response.AdditionalRecords.AddRange(glue.Where(g => g is ARecord));
        return response;
    }

    public void Dispose()
    {
        try { _server?.Stop(); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException or AggregateException) { /* stopping */ }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using DnsClient;

namespace Omr.Engine.Discovery
{
    /// <summary>The one way the engine builds a DNS client: the given servers or the system's, errors as responses.</summary>
    internal static class DnsLookup
    {
        public static LookupClient Create(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout)
        {
            var options = servers is { Count: > 0 } ? new LookupClientOptions(servers.Select(s => new NameServer(s)).ToArray()) : new LookupClientOptions();
            options.UseCache = true;
            options.Timeout = timeout ?? TimeSpan.FromSeconds(5);
            options.Retries = 2;
            options.ThrowDnsErrors = false;
            options.ContinueOnDnsError = false;
            options.ContinueOnEmptyResponse = false;
            options.UseTcpFallback = true;
            return new LookupClient(options);
        }
    }
}

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
        /// <summary>One attempt's deadline (glibc's resolver default).</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

        /// <summary>
        /// Tries per query and server (glibc's default "attempts:2"): a name that never answers
        /// costs at most <see cref="Attempts"/> × the timeout per server, then it is a DnsFailure.
        /// </summary>
        public const int Attempts = 2;

        public static LookupClient Create(IReadOnlyList<IPEndPoint>? servers, TimeSpan? timeout)
        {
            var options = servers is { Count: > 0 } ? new LookupClientOptions(servers.Select(s => new NameServer(s)).ToArray()) : new LookupClientOptions();
            options.UseCache = true;
            options.Timeout = timeout ?? DefaultTimeout;
            options.Retries = Attempts - 1;
            options.ThrowDnsErrors = false;
            options.ContinueOnDnsError = false;
            options.ContinueOnEmptyResponse = false;
            // An answer larger than UDP allows (thousands of MX records) comes back truncated (TC):
            // it is asked again over TCP.
            options.UseTcpFallback = true;
            return new LookupClient(options);
        }
    }
}

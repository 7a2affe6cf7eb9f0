using System;
using System.Collections.Generic;
using System.Net;

namespace Omr.Engine.Discovery
{
    /// <summary>A mail host of a domain and its addresses.</summary>
    public sealed class MailHost
    {
        private readonly List<string> _aliases = new List<string>();
        private readonly List<string> _notes = new List<string>();

        public MailHost(string name, int? preference, IReadOnlyList<IPAddress> addresses, bool implicitMx)
        {
            Name = name; Preference = preference; Addresses = addresses; ImplicitMx = implicitMx;
        }

        public string Name { get; }
        public int? Preference { get; }
        public IReadOnlyList<IPAddress> Addresses { get; }
        public bool ImplicitMx { get; }
        /// <summary>Why this host has no addresses, when it has none.</summary>
        public string? Problem { get; set; }
        /// <summary>What kind of failure <see cref="Problem"/> is (NoMailHost for no address, DnsFailure for SERVFAIL/timeout/CNAME loop).</summary>
        public DiscoveryErrorKind? ProblemKind { get; set; }
        /// <summary>The name the addresses were found at, when <see cref="Name"/> is an alias (CNAME).</summary>
        public string? CanonicalName { get; set; }
        /// <summary>
        /// Less preferred MX names of the same domain that share this host's addresses: each
        /// address is listed (and tested) once, under its most preferred MX host.
        /// </summary>
        public IReadOnlyList<string> Aliases => _aliases;
        /// <summary>Things the user should know about this host (a CNAME followed, an IP address as MX exchange...).</summary>
        public IReadOnlyList<string> Notes => _notes;

        internal void AddAlias(string name) { if (!_aliases.Contains(name)) _aliases.Add(name); }
        internal void AddNote(string note) => _notes.Add(note);
    }

    public enum DiscoveryErrorKind
    {
        /// <summary>NXDOMAIN: the name does not exist.</summary>
        DomainNotFound,
        /// <summary>The domain exists but has no MX and no A/AAAA, or its MX hosts have no addresses.</summary>
        NoMailHost,
        /// <summary>SERVFAIL, refused, timeout, unreachable resolver.</summary>
        DnsFailure,
        /// <summary>A host given directly does not resolve.</summary>
        HostNotFound,
        /// <summary>The input is not a domain, host or address literal.</summary>
        InvalidTarget,
    }

    public sealed class DiscoveryException : Exception
    {
        public DiscoveryException(DiscoveryErrorKind kind, string message, Exception? inner = null) : base(message, inner) { Kind = kind; }
        public DiscoveryException(DiscoveryErrorKind kind, string message, Exception? inner, IReadOnlyList<MailHost>? partial)
            : base(message, inner) { Kind = kind; PartialHosts = partial; }

        public DiscoveryErrorKind Kind { get; }
        /// <summary>MX hosts that did resolve, when some did not (the rest is reported, not lost).</summary>
        public IReadOnlyList<MailHost>? PartialHosts { get; }
    }

    /// <summary>What a domain's mail routing says.</summary>
    public sealed class MailRouting
    {
        public MailRouting(string domain, IReadOnlyList<MailHost> hosts, bool nullMx)
            : this(domain, hosts, nullMx, 0, Array.Empty<string>()) { }

        public MailRouting(string domain, IReadOnlyList<MailHost> hosts, bool nullMx, int omittedHosts, IReadOnlyList<string> notes)
        {
            Domain = domain; Hosts = hosts; NullMx = nullMx; OmittedHosts = omittedHosts; Notes = notes;
        }

        public string Domain { get; }
        /// <summary>The MX hosts tested, most preferred first (at most <see cref="MailHostResolver.MaxMxHosts"/>).</summary>
        public IReadOnlyList<MailHost> Hosts { get; }
        /// <summary>RFC 7505: the domain accepts no mail.</summary>
        public bool NullMx { get; }
        /// <summary>MX hosts left out (beyond <see cref="MailHostResolver.MaxMxHosts"/>, by preference); 0 when none.</summary>
        public int OmittedHosts { get; }
        /// <summary>Things the user should know (hosts omitted, a truncated answer, the domain is an alias...): verbose lines.</summary>
        public IReadOnlyList<string> Notes { get; }
    }
}

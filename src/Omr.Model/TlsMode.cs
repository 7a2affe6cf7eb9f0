namespace Omr
{
    /// <summary>How Test-OpenRelay uses TLS (-Tls): a cmdlet parameter type, so it lives with the output types.</summary>
    public enum TlsMode
    {
        /// <summary>Use STARTTLS when offered; go on in clear text when it is not.</summary>
        Auto,
        /// <summary>Insist on TLS; a server without it is Inconclusive.</summary>
        Required,
        /// <summary>Never start TLS (implicit-TLS ports excepted).</summary>
        None,
    }
}

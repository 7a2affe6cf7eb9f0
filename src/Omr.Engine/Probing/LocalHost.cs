using System;
using System.Net.NetworkInformation;

namespace Omr.Engine.Probing
{
    /// <summary>This machine's name, looked up once per process.</summary>
    internal static class LocalHost
    {
        private static readonly Lazy<string?> FqdnValue = new Lazy<string?>(() =>
        {
            try
            {
                var props = IPGlobalProperties.GetIPGlobalProperties();
                return string.IsNullOrEmpty(props.DomainName) ? props.HostName : props.HostName + "." + props.DomainName;
            }
            catch (Exception ex) when (ex is NetworkInformationException || ex is PlatformNotSupportedException)
            {
                return null;
            }
        });

        /// <summary>Host name plus DNS domain, as far as the machine knows them; null when it cannot say.</summary>
        public static string? Fqdn => FqdnValue.Value;
    }
}

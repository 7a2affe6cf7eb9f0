using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Omr.Lab.Smtp;

internal static class LabCertificate
{
    /// <summary>A self-signed server certificate for <paramref name="hostName"/>, re-imported from PFX so SslStream can use its key on every platform.</summary>
    /// <param name="expired">Valid from 30 days ago until yesterday instead of from yesterday for 30 days.</param>
    public static X509Certificate2 Create(string hostName, bool expired = false)
    {
        using var key = RSA.Create(2048);
        var req = new CertificateRequest("CN=" + hostName, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(hostName);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var cert = expired ? req.CreateSelfSigned(now.AddDays(-30), now.AddDays(-1)) : req.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        var pfx = cert.Export(X509ContentType.Pfx, (string?)null);
        return X509CertificateLoader.LoadPkcs12(pfx, null, X509KeyStorageFlags.Exportable);
    }
}

#Requires -Version 7.2
# Get-RelayEvidence against real peers (tests/lab/peers.sh): the open Postfix (127.0.0.21:2525)
# relays every recipient into relaycheck@noc.omr-peer.test in Dovecot (IMAP 1143/1993, POP3
# 1110/1995); the discard Postfix accepts and throws the message away. build.ps1 Test starts the
# peers and passes their endpoints as JSON in OMR_PEERS; the password is OMR_PEER_PASSWORD
# (default omr-peer-secret-1). Without peers these tests FAIL, unless OMR_SKIP_PEERS=1.

BeforeDiscovery {
    $skipPeers = (-not $env:OMR_PEERS) -and ($env:OMR_SKIP_PEERS -eq '1')
}

Describe 'Get-RelayEvidence against real Postfix and Dovecot peers' -Tag Peers -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers) {
            $why = if ($env:OMR_PEERS_ERROR) { $env:OMR_PEERS_ERROR } else { 'OMR_PEERS is not set (run through build.ps1 Test)' }
            throw "The peers are not running: $why. Set OMR_SKIP_PEERS=1 to skip these tests."
        }
        Import-OmrModule
        $script:Password = if ($env:OMR_PEER_PASSWORD) { $env:OMR_PEER_PASSWORD } else { 'omr-peer-secret-1' }
        $script:Mailbox = $Peers.mailbox
        $script:Cred = [pscredential]::new($Mailbox, (ConvertTo-SecureString $Password -AsPlainText -Force))
        $script:OpenPeer = Split-HostPort $Peers.open
        $script:DiscardPeer = Split-HostPort $Peers.discard
        $script:Imap = Split-HostPort $Peers.imap
        $script:Imaps = Split-HostPort $Peers.imaps
        $script:Pop3 = Split-HostPort $Peers.pop3

        function script:New-Verified([object] $Peer) {
            $r = Test-OpenRelay -ComputerName $Peer.Host -Port $Peer.Port -Verify -VerifyAddress $Mailbox -TimeoutSec 30 -Confirm:$false
            $r.Verdict | Should -Be 'Open' -Because $r.Reason
            $r.Proof | Should -Be 'DataAccepted' -Because $r.VerificationReply
            $r
        }

        function script:New-Fake {
            # A result that needs searching, for the mailbox error tests (no SMTP needed).
            $id = 'omr-20240101-' + [guid]::NewGuid().ToString('N').Substring(0, 20)
            [pscustomobject]@{ ProbeId = $id; Verdict = 'Open'; Proof = 'DataAccepted'; ComputerName = 'fake.example'; Address = '192.0.2.1'; Port = 25
                VerificationMessageId = "$id@omr.invalid" }
        }

        function script:Assert-Bundle([object] $Evidence, [object] $Result) {
            $Evidence.Delivered | Should -BeTrue -Because $Evidence.Reason
            $Evidence.Proof | Should -Be 'Delivered'
            $Evidence.Files.Count | Should -Be 4
            $eml = Join-Path $Evidence.BundlePath 'message.eml'
            $text = Get-Content -Raw -LiteralPath $eml
            $text | Should -Match "(?m)^X-Omr-Probe: $([regex]::Escape($Result.ProbeId))\r?$"
            $text | Should -Match "(?m)^Message-ID: <$([regex]::Escape($Result.ProbeId))@omr\.invalid>\r?$"
            $text | Should -Match '(?m)^Received: from '
            $text | Should -Match '(?m)^\r?$' -Because 'the header block ends with an empty line'
            # The relay shows in the chain: Dovecot's LMTP hop names 127.0.0.21 as the connecting IP.
            $Evidence.RelaySeen | Should -BeTrue -Because (($Evidence.Hops | ForEach-Object Raw) -join ' | ')
            @($Evidence.Hops | Where-Object { $_.Ip -eq $OpenPeer.Host -or $_.ByIp -eq $OpenPeer.Host -or $_.By -like '*open*' }).Count |
                Should -BeGreaterThan 0
            foreach ($f in $Evidence.Files) {
                [IO.File]::ReadAllText($f) | Should -Not -BeLike "*$Password*" -Because "$f must not contain the mailbox password"
            }
            $json = Get-Content -Raw -LiteralPath (Join-Path $Evidence.BundlePath 'evidence.json') | ConvertFrom-Json
            foreach ($f in $json.files) {
                (Get-FileHash -Algorithm SHA256 -LiteralPath (Join-Path $Evidence.BundlePath $f.name)).Hash.ToLowerInvariant() | Should -Be $f.sha256
            }
        }
    }

    It 'IMAP with STARTTLS: the open Postfix delivers, the bundle proves it' {
        $r = New-Verified $OpenPeer
        $ev = $r | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Protocol Imap -Security StartTls -SkipCertificateCheck `
            -Credential $Cred -WaitSec 20 -OutputPath (Join-Path $TestDrive 'imap') -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        Assert-Bundle $ev $r
        $ev.MailSource | Should -BeLike 'INBOX on *(IMAP)'
    }

    It 'POP3 with STARTTLS: the same, through Pop3Client' {
        $r = New-Verified $OpenPeer
        $ev = $r | Get-RelayEvidence -MailServer $Pop3.Host -Port $Pop3.Port -Protocol Pop3 -Security StartTls -SkipCertificateCheck `
            -Credential $Cred -WaitSec 20 -OutputPath (Join-Path $TestDrive 'pop3') -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        Assert-Bundle $ev $r
    }

    It 'IMAPS (TLS on connect) and -Remove deletes the matched message' {
        $r = New-Verified $OpenPeer
        $p = @{ MailServer = $Imaps.Host; Port = $Imaps.Port; Security = 'SslOnConnect'; SkipCertificateCheck = $true; Credential = $Cred }
        $ev = $r | Get-RelayEvidence @p -WaitSec 20 -Remove -Confirm:$false -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        $ev.Delivered | Should -BeTrue -Because $ev.Reason
        $again = $r | Get-RelayEvidence @p
        $again.Delivered | Should -BeFalse
        $again.Reason | Should -BeLike 'not found in INBOX*'
    }

    It 'the discard Postfix accepts DATA, but nothing arrives: stays DataAccepted' {
        $r = New-Verified $DiscardPeer
        $ev = $r | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $Cred -WaitSec 5
        $ev.Delivered | Should -BeFalse
        $ev.Proof | Should -Be 'DataAccepted'
        $ev.Reason | Should -BeLike '*accept-then-discard*'
        $ev.Files | Should -BeNullOrEmpty
    }

    It 'a wrong password is MailboxAuthFailed (SecurityError), and still one answer per input' {
        $r = New-Fake
        $wrong = 'wrong-' + [guid]::NewGuid().ToString('N')
        $bad = [pscredential]::new($Mailbox, (ConvertTo-SecureString $wrong -AsPlainText -Force))
        $ev = @($r | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $bad -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'MailboxAuthFailed,*'
        $errs[0].CategoryInfo.Category | Should -Be 'SecurityError'
        ($errs[0] | Out-String) + $errs[0].Exception.ToString() | Should -Not -BeLike "*$wrong*"
        $ev.Count | Should -Be 1
        $ev[0].Delivered | Should -BeFalse
    }

    It 'an unknown folder is MailboxFolderNotFound (ObjectNotFound)' {
        $r = New-Fake
        $ev = @($r | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $Cred -Folder 'No/Such/Folder' -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'MailboxFolderNotFound,*'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $ev.Count | Should -Be 1
    }

    It 'checks the certificate unless told not to: the self-signed peer is refused' {
        $r = New-Fake
        $ev = @($r | Get-RelayEvidence -MailServer $Imaps.Host -Port $Imaps.Port -Security SslOnConnect -Credential $Cred -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'MailboxConnectFailed,*'
        $ev[0].Delivered | Should -BeFalse
    }
}

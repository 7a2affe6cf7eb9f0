#Requires -Version 7.2
# Test-OpenRelay against real Postfix instances (tests/lab/peers.sh), which build.ps1 Test starts
# before Pester and stops after it; their endpoints arrive as JSON in OMR_PEERS.
# Without peers these tests FAIL, unless OMR_SKIP_PEERS=1, in which case they are skipped.

BeforeDiscovery {
    $skipPeers = (-not $env:OMR_PEERS) -and ($env:OMR_SKIP_PEERS -eq '1')
}

Describe 'Test-OpenRelay against real Postfix peers' -Tag Peers -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers) {
            $why = if ($env:OMR_PEERS_ERROR) { $env:OMR_PEERS_ERROR } else { 'OMR_PEERS is not set (run through build.ps1 Test)' }
            throw "The Postfix peers are not running: $why. Set OMR_SKIP_PEERS=1 to skip these tests."
        }
        Import-OmrModule
        $script:OpenPeer = Split-HostPort $Peers.open
        $script:ClosedPeer = Split-HostPort $Peers.closed
        $script:DiscardPeer = Split-HostPort $Peers.discard
    }

    It 'finds the open Postfix peer Open, relayed by foreign-recipient' {
        $r = Test-OpenRelay -ComputerName $OpenPeer.Host -Port $OpenPeer.Port -TimeoutSec 20
        @($r).Count | Should -Be 1
        $r.Address | Should -Be $OpenPeer.Host
        $r.Port | Should -Be $OpenPeer.Port
        $r.Verdict | Should -Be 'Open' -Because $r.Reason
        $r.RelayedBy | Should -Contain 'foreign-recipient'
    }

    It 'finds the closed Postfix peer Closed, every test refused with 5xx' {
        $r = Test-OpenRelay -ComputerName $ClosedPeer.Host -Port $ClosedPeer.Port -TimeoutSec 20
        @($r).Count | Should -Be 1
        $r.Verdict | Should -Be 'Closed' -Because $r.Reason
        $r.RelayedBy | Should -BeNullOrEmpty
        @($r.Tests | Where-Object Accepted) | Should -BeNullOrEmpty
        @($r.Tests | Where-Object { $_.ReplyCode -ge 500 }).Count | Should -BeGreaterThan 0
    }

    It 'keeps the Postfix greeting in the banner and the transcript' {
        # What Postfix itself says, read with a plain socket.
        $tcp = [System.Net.Sockets.TcpClient]::new()
        try {
            $tcp.Connect($ClosedPeer.Host, $ClosedPeer.Port)
            $tcp.ReceiveTimeout = 10000
            $greeting = [System.IO.StreamReader]::new($tcp.GetStream()).ReadLine()
        }
        finally { $tcp.Dispose() }
        $greeting | Should -Match '^220 '

        $r = Test-OpenRelay -ComputerName $ClosedPeer.Host -Port $ClosedPeer.Port -TimeoutSec 20 -Test 'foreign-recipient'
        $r.Banner | Should -Not -BeNullOrEmpty
        $greeting | Should -BeLike "*$($r.Banner)*"
        @($r.Transcript | Where-Object Direction -EQ 'S').Text | Should -Contain $greeting
        $sent = @($r.Transcript | Where-Object Direction -EQ 'C').Text -join "`n"
        $sent | Should -Match '(?m)^RCPT TO:'
        $sent | Should -Not -Match '(?m)^DATA'
    }

    It 'runs the battery inside STARTTLS and records the self-signed certificate without stopping' {
        $r = Test-OpenRelay -ComputerName $ClosedPeer.Host -Port $ClosedPeer.Port -TimeoutSec 20
        $r.Tls | Should -Match '^TLSv1\.[23] \(certificate: '
        $texts = @($r.Transcript | Where-Object Direction -EQ 'C').Text
        $texts | Should -Contain 'STARTTLS'
        # Every MAIL FROM came after STARTTLS: the battery ran inside TLS.
        [array]::IndexOf($texts, 'STARTTLS') | Should -BeLessThan ([array]::FindIndex([string[]]$texts, [Predicate[string]] { param($t) $t.StartsWith('MAIL FROM:') }))
        $r.Extensions | Should -Contain 'PIPELINING'
    }

    It 'finishes all tests on a Postfix that hangs up after too many errors (smtpd_hard_error_limit), by reconnecting' {
        $r = Test-OpenRelay -ComputerName $ClosedPeer.Host -Port $ClosedPeer.Port -TimeoutSec 60 -Tls None
        $r.Verdict | Should -Be 'Closed' -Because $r.Reason
        $r.Connections | Should -BeGreaterThan 1
        @($r.Tests | Where-Object { $_.ReplyCode -eq 0 }) | Should -BeNullOrEmpty
        @($r.Transcript | Where-Object Direction -EQ 'S').Text -match '^421 ' | Should -Not -BeNullOrEmpty
        @($r.Transcript | Where-Object Direction -EQ 'C').Text | Should -Not -Contain 'STARTTLS'
    }

    It 'tests the Postfix peers concurrently in one call, one result each' {
        $r = @(Test-OpenRelay -ComputerName $OpenPeer.Host, $ClosedPeer.Host, $DiscardPeer.Host -Port $OpenPeer.Port -TimeoutSec 20 -Test 'foreign-recipient')
        $r.Count | Should -Be 3
        ($r | Where-Object Address -EQ $OpenPeer.Host).Verdict | Should -Be 'Open'
        ($r | Where-Object Address -EQ $ClosedPeer.Host).Verdict | Should -Be 'Closed'
        ($r | Where-Object Address -EQ $DiscardPeer.Host).Verdict | Should -Be 'Open' -Because 'accepting a foreign RCPT is what the default run can see'
    }
}

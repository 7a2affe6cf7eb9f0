#Requires -Version 7.2
# Test-OpenRelay's inputs and the lab's DNS faults as a user sees them: every value gets exactly
# one answer (a result, or one categorised error with the raw value as TargetObject), and a bad
# value never stops the others.

BeforeDiscovery {
    # Each bad -Domain value and the error it must give (all InvalidTarget / InvalidArgument).
    $badDomains = @(
        ''
        '   '
        'postmaster@open.omr-lab.test'
        'mailto:postmaster@open.omr-lab.test'
        'https://mail.example.com/x'
        'smtp://closed.mx.omr-lab.test:25'
        'open.omr-lab.test:25'
        'exa mple.com'
        "exa`tmple.com"
        "exa$([char]7)mple.com"
        'exa!mple.com'
        'a..omr-lab.test'
        ('a' * 64) + '.omr-lab.test'
        ((('a' * 49) + '.') * 5) + 'test'
        '256.1.1.1'
        '[not-an-address]'
    )
    # Test names show control characters escaped (the NUnit report cannot hold them).
    $show = { param($v) [regex]::Replace($v, '\p{Cc}', { param($m) '\u{0:X4}' -f [int][char]$m.Value }) }
    $badDomainCases = @($badDomains | ForEach-Object { @{ Value = $_; Show = "'$(& $show $_)'" } })
    $badHosts = @(
        '   '
        'postmaster@closed.mx.omr-lab.test'
        'closed.mx.omr-lab.test:25'
        'https://closed.mx.omr-lab.test/'
        'clo sed.mx.omr-lab.test'
    )
    $badHostCases = @($badHosts | ForEach-Object { @{ Value = $_; Show = "'$(& $show $_)'" } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:P = @{ DnsServer = $Lab.dnsServer; Port = $Lab.smtpPort; TimeoutSec = 10 }

    function script:Invoke-Relay {
        # Runs Test-OpenRelay with the lab parameters; returns results, errors and verbose lines.
        param([hashtable] $Extra = @{})
        $errs = $null
        $params = $P.Clone()
        foreach ($k in $Extra.Keys) { $params[$k] = $Extra[$k] }
        $all = @(Test-OpenRelay @params -ErrorVariable errs -ErrorAction SilentlyContinue -Verbose 4>&1)
        [pscustomobject]@{
            Results = @($all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            Verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
            Errors  = @($errs)
        }
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'A batch of -Domain values mixing good and bad ones' -Tag Lab, Input -ForEach @(@{ Bad = $badDomains }) {
    BeforeAll {
        $script:Out = Invoke-Relay -Extra @{ Domain = @('open.omr-lab.test') + $Bad + @('closed.omr-lab.test') }
    }

    It 'still tests the good domains' {
        @($Out.Results | ForEach-Object Domain | Sort-Object) | Should -Be @('closed.omr-lab.test', 'open.omr-lab.test')
        ($Out.Results | Where-Object Domain -EQ 'open.omr-lab.test').Verdict | Should -Be 'Open'
        ($Out.Results | Where-Object Domain -EQ 'closed.omr-lab.test').Verdict | Should -Be 'Closed'
    }

    It 'writes exactly one error per bad value, and no other' {
        $Out.Errors.Count | Should -Be $Bad.Count
    }

    It 'writes one InvalidTarget error (InvalidArgument) for <Show>' -ForEach $badDomainCases {
        $mine = @($Out.Errors | Where-Object { $_.TargetObject -ceq $Value })
        $mine.Count | Should -Be 1
        $mine[0].FullyQualifiedErrorId | Should -BeLike 'InvalidTarget,*'
        $mine[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $mine[0].Exception.Message | Should -Not -BeNullOrEmpty
    }

    It 'suggests the domain for a mail address instead of testing it' {
        $e = @($Out.Errors | Where-Object TargetObject -EQ 'postmaster@open.omr-lab.test')[0]
        $e.Exception.Message | Should -BeLike '*did you mean -Domain open.omr-lab.test?*'
    }

    It 'suggests the host for a URL and -Port for host:port' {
        (@($Out.Errors | Where-Object TargetObject -EQ 'https://mail.example.com/x')[0]).Exception.Message | Should -BeLike '*-ComputerName mail.example.com*'
        (@($Out.Errors | Where-Object TargetObject -EQ 'smtp://closed.mx.omr-lab.test:25')[0]).Exception.Message | Should -BeLike '*-ComputerName closed.mx.omr-lab.test -Port 25*'
        (@($Out.Errors | Where-Object TargetObject -EQ 'open.omr-lab.test:25')[0]).Exception.Message | Should -BeLike '*-Domain open.omr-lab.test -Port 25*'
    }
}

Describe 'A batch of -ComputerName values mixing good and bad ones' -Tag Lab, Input -ForEach @(@{ Bad = $badHosts }) {
    BeforeAll {
        $script:Out = Invoke-Relay -Extra @{ ComputerName = @('closed.mx.omr-lab.test') + $Bad + @('open.mx.omr-lab.test') }
    }

    It 'still tests the good hosts' {
        @($Out.Results | ForEach-Object ComputerName | Sort-Object) | Should -Be @('closed.mx.omr-lab.test', 'open.mx.omr-lab.test')
    }

    It 'writes one InvalidTarget error (InvalidArgument) for <Show>' -ForEach $badHostCases {
        $mine = @($Out.Errors | Where-Object { $_.TargetObject -ceq $Value })
        $mine.Count | Should -Be 1
        $mine[0].FullyQualifiedErrorId | Should -BeLike 'InvalidTarget,*'
        $mine[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'writes no other error' {
        $Out.Errors.Count | Should -Be $Bad.Count
    }
}

Describe 'Parameter validation' -Tag Lab, Input {
    It 'rejects <Case> as a parameter-validation error' -ForEach @(
        @{ Case = '-Port 0'; Params = @{ Port = 0 } }
        @{ Case = '-Port 70000'; Params = @{ Port = 70000 } }
        @{ Case = '-Port 25, 0'; Params = @{ Port = 25, 0 } }
        @{ Case = '-ThrottleLimit 0'; Params = @{ ThrottleLimit = 0 } }
        @{ Case = "-ComputerName ''"; Params = @{ ComputerName = '' } }
    ) {
        $call = @{ Domain = 'open.omr-lab.test'; DnsServer = $Lab.dnsServer }
        if (-not $Params.ContainsKey('Port')) { $call.Port = $Lab.smtpPort }
        foreach ($k in $Params.Keys) { $call[$k] = $Params[$k] }
        $script:leaked = $null
        { $script:leaked = Test-OpenRelay @call } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        $script:leaked | Should -BeNullOrEmpty
    }
}

Describe 'An IDN domain' -Tag Lab, Input {
    It 'is tested, and its result names the domain by its A-label' {
        $out = Invoke-Relay -Extra @{ Domain = 'bücher.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Domain | Should -Be 'xn--bcher-kva.omr-lab.test'
        $out.Results[0].Verdict | Should -Be 'Closed'
    }

    It 'is the same domain given as its A-label' {
        $out = Invoke-Relay -Extra @{ Domain = 'XN--BCHER-KVA.omr-lab.test.' }
        $out.Results.Count | Should -Be 1
        $out.Results[0].Domain | Should -Be 'xn--bcher-kva.omr-lab.test'
    }
}

Describe 'Lab DNS faults through the cmdlet' -Tag Lab, Input, Dns {
    It 'SERVFAIL gives one DnsFailure error (ConnectionError)' {
        $out = Invoke-Relay -Extra @{ Domain = 'servfail.omr-lab.test', 'open.omr-lab.test' }
        $out.Results.Count | Should -Be 1
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'DnsFailure,*'
        $out.Errors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        $out.Errors[0].TargetObject | Should -Be 'servfail.omr-lab.test'
    }

    It 'a name that is never answered gives one DnsFailure error saying it timed out, within the DNS timeout x attempts' {
        # Default DNS timeout 5 s, 2 attempts: 10 s, plus a margin.
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $out = Invoke-Relay -Extra @{ Domain = 'timeout.omr-lab.test' }
        $sw.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 20
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'DnsFailure,*'
        $out.Errors[0].Exception.Message | Should -BeLike '*timed out*'
    }

    It 'a CNAME loop as the domain gives one DnsFailure error naming the loop' {
        $out = Invoke-Relay -Extra @{ Domain = 'a.loop.omr-lab.test' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'DnsFailure,*'
        $out.Errors[0].Exception.Message | Should -BeLike '*CNAME loop*'
        $out.Errors[0].TargetObject | Should -Be 'a.loop.omr-lab.test'
    }

    It 'a CNAME loop as the MX target gives one error for the domain' {
        $out = Invoke-Relay -Extra @{ Domain = 'loopmx.omr-lab.test' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].Exception.Message | Should -BeLike '*CNAME loop*'
        $out.Errors[0].TargetObject | Should -Be 'loopmx.omr-lab.test'
    }

    It 'an MX at a CNAME is followed and tested' {
        $out = Invoke-Relay -Extra @{ Domain = 'cnamemx.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Verdict | Should -Be 'Closed'
    }

    It 'an MX whose exchange is an IPv4 address is tested at that address' {
        $out = Invoke-Relay -Extra @{ Domain = 'ipmx.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Address | Should -Be ($Lab.servers | Where-Object name -EQ 'closed').address
    }

    It 'an address shared by two MX hosts is tested once' {
        $out = Invoke-Relay -Extra @{ Domain = 'dupaddr.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 2
        @($out.Results | ForEach-Object { [string]$_.Address } | Sort-Object -Unique).Count | Should -Be 2
    }

    It '5,000 MX records give at most MaxMxHosts (10) results' {
        $out = Invoke-Relay -Extra @{ Domain = 'manymx.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -BeGreaterThan 0
        $out.Results.Count | Should -BeLessOrEqual 10
        @($out.Results | Where-Object Domain -NE 'manymx.omr-lab.test') | Should -BeNullOrEmpty
    }

    # Expected to fail until the scanner publishes MailRouting.Notes as verbose lines (RelayScanner rewrite).
    It '5,000 MX records: a verbose line says how many hosts were left out' {
        $out = Invoke-Relay -Extra @{ Domain = 'manymx.omr-lab.test' }
        @($out.Verbose | Where-Object { $_ -match '\d+ left out' }).Count | Should -BeGreaterThan 0
    }
}

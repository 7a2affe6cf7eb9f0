#Requires -Version 7.2
# Re-imported input is a claim. Send-RelayNotice believes Delivered only from evidence this process's
# engine produced, or whose bundle verifies (evidence.json names the probe id, SHA-256 of message.eml
# and transcript.log match); it attaches only the bundle's own files, never a file an input property
# points at (/etc/passwd, /etc, symlinks, ..). Get-RelayEvidence does not believe a re-imported
# result's Proof=Delivered without finding the message.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:OpenResult = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 `
        -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false
    $script:Evidence = $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $TestDrive 'ev') -WaitSec 5
    $script:Common = @{ From = 'noc@example.net'; To = 'ops@customer.example'; Confirm = $false }
    $script:Passwd = [IO.File]::ReadAllText('/etc/passwd')
    $script:PasswdLine = ($Passwd -split "`n")[0]   # "root:x:0:0:..." on every Linux

    function script:New-Folder([string] $Name) {
        $p = Join-Path $TestDrive ($Name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        New-Item -ItemType Directory -Path $p | Out-Null
        $p
    }

    # The evidence as ConvertTo-Json / ConvertFrom-Json gives it back: a PSCustomObject, a claim.
    function script:Get-Claim { $Evidence | ConvertTo-Json -Depth 8 | ConvertFrom-Json }

    # A copy of the real bundle in a new folder (its evidence.json still verifies), and the claim pointing at it.
    function script:Copy-Bundle([string] $Name) {
        $dir = Join-Path (New-Folder $Name) (Split-Path -Leaf $Evidence.BundlePath)
        Copy-Item -LiteralPath $Evidence.BundlePath -Destination $dir -Recurse
        $claim = Get-Claim
        $claim.BundlePath = $dir
        $claim.Files = @(Get-ChildItem -LiteralPath $dir -File | ForEach-Object FullName)
        $claim, $dir
    }

    # Every .eml written to a pickup folder, as text, and a check that none of them carries $Marker in any encoding.
    function script:Assert-NotMailed([string] $Pickup, [string] $Marker) {
        foreach ($f in @(Get-ChildItem -LiteralPath $Pickup -Filter *.eml -ErrorAction SilentlyContinue)) {
            $text = [IO.File]::ReadAllText($f.FullName)
            $text.Contains($Marker, [StringComparison]::Ordinal) | Should -BeFalse -Because "$($f.Name) must not carry it"
            $b64 = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Marker))
            $text.Replace("`r`n", '').Contains($b64.Substring(0, [Math]::Min(40, $b64.Length)), [StringComparison]::Ordinal) | Should -BeFalse -Because "$($f.Name) must not carry it in base64"
        }
    }

    function script:Get-AttachmentNames([string] $EmlPath) {
        $text = [IO.File]::ReadAllText($EmlPath)
        @([regex]::Matches($text, '(?m)^Content-Disposition: attachment;\s*filename="?([^"\r\n;]+)') | ForEach-Object { $_.Groups[1].Value })
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Send-RelayNotice believes only what it can verify' -Tag Lab, Notice, Trust {
    It 'has live, delivered evidence with a bundle' {
        $Evidence.Proof | Should -Be 'Delivered' -Because $Evidence.Reason
        $Evidence.BundlePath | Should -Exist
    }

    It 'a re-imported claim whose bundle verifies is noticed with exactly the bundle''s files' {
        $pickup = New-Folder 'ok'
        $n = Get-Claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $names = Get-AttachmentNames $n.EmlPath
        $names.Count | Should -Be 3
        $names | ForEach-Object { $_ | Should -Match '_(transcript\.log|message\.eml|evidence\.json)$' }
    }

    It 'rejects <Case>: Skipped with the reason, nothing read, nothing mailed' -ForEach @(
        @{ Case = 'Files = /etc/passwd'; Files = @('/etc/passwd'); Bundle = $null; Why = 'bundle missing' }
        @{ Case = 'BundlePath = /etc'; Files = @(); Bundle = '/etc'; Why = 'bundle missing' }
        @{ Case = 'BundlePath = /etc and Files = /etc/passwd'; Files = @('/etc/passwd'); Bundle = '/etc'; Why = 'bundle missing' }
        @{ Case = 'no bundle at all'; Files = @(); Bundle = $null; Why = 'bundle missing' }
    ) {
        $claim = Get-Claim
        $claim.Files = $Files
        $claim.BundlePath = $Bundle
        $pickup = New-Folder 'reject'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike "*proof DataAccepted is below -MinimumProof Delivered (the Delivered proof of this input could not be verified: $Why*"
        @(Get-ChildItem -LiteralPath $pickup).Count | Should -Be 0

        # Knowingly lowering the bar sends the notice, but still without any file the input pointed at.
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup -MinimumProof DataAccepted
        $n.Status | Should -Be 'Written' -Because $n.Reason
        Get-AttachmentNames $n.EmlPath | Should -Be @('open.mx.omr-lab.test_' + $Evidence.Port + '_transcript.log')
        Assert-NotMailed $pickup $PasswdLine
    }

    It 'rejects a hand-built [Omr.RelayEvidence] and a hashtable claiming Delivered' {
        $built = [Omr.RelayEvidence]@{ ProbeId = $Evidence.ProbeId; Domain = 'open.omr-lab.test'; ComputerName = 'open.mx.omr-lab.test'; Address = $Evidence.Address
            Port = $Evidence.Port; Delivered = $true; Proof = 'Delivered'; Files = @('/etc/passwd'); BundlePath = '/etc' }
        $hash = @{ ProbeId = $Evidence.ProbeId; Domain = 'open.omr-lab.test'; ComputerName = 'open.mx.omr-lab.test'; Address = $Evidence.Address
            Port = $Evidence.Port; Delivered = $true; Proof = 'Delivered'; Files = @('/etc/passwd'); BundlePath = '/etc' }
        foreach ($claim in $built, $hash) {
            $pickup = New-Folder 'built'
            $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
            $n.Status | Should -Be 'Skipped'
            $n.Reason | Should -BeLike '*could not be verified: bundle missing*'
            @(Get-ChildItem -LiteralPath $pickup).Count | Should -Be 0
            $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup -MinimumProof RecipientAccepted
            @(Get-ChildItem -LiteralPath $pickup -Filter *.eml | ForEach-Object { Get-AttachmentNames $_.FullName }).Count | Should -Be 0
            Assert-NotMailed $pickup $PasswdLine
        }
    }

    It 'a live object whose paths were edited afterwards is checked again' {
        $fresh = $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop
        $fresh.Proof | Should -Be 'Delivered'
        $fresh.BundlePath = '/etc'
        $fresh.Files = @('/etc/passwd')
        $pickup = New-Folder 'edited'
        $n = $fresh | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike '*could not be verified: bundle missing*'
        @(Get-ChildItem -LiteralPath $pickup).Count | Should -Be 0
    }

    It 'a live object without a bundle (no -OutputPath) is believed: the engine saw the message' {
        $fresh = $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop
        $fresh.BundlePath | Should -BeNullOrEmpty
        $n = $fresh | Send-RelayNotice @Common -PickupDirectory (New-Folder 'live')
        $n.Status | Should -Be 'Written' -Because $n.Reason
    }

    It 'a tampered message.eml is a hash mismatch' {
        $claim, $dir = Copy-Bundle 'tampered'
        Add-Content -LiteralPath (Join-Path $dir 'message.eml') -Value 'X-Tampered: yes'
        $pickup = New-Folder 'tampered-out'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike '*hash mismatch for message.eml*'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup -MinimumProof DataAccepted
        Assert-NotMailed $pickup 'X-Tampered: yes'
    }

    It 'another probe id is refused' {
        $claim, $dir = Copy-Bundle 'probe'
        $claim.ProbeId = 'omr-20240101-00000000000000000000'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory (New-Folder 'probe-out')
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike '*probe id differs*'
    }

    It 'a symlink inside a real bundle pointing outside is refused, and its target is not read' {
        $claim, $dir = Copy-Bundle 'symlink'
        $eml = Join-Path $dir 'message.eml'
        Remove-Item -LiteralPath $eml
        New-Item -ItemType SymbolicLink -Path $eml -Target '/etc/passwd' | Out-Null
        (Get-Item -LiteralPath $eml -Force).LinkType | Should -Be 'SymbolicLink'
        $pickup = New-Folder 'symlink-out'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike '*message.eml refused (a symbolic link or reparse point)*'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup -MinimumProof DataAccepted
        $n.Status | Should -Be 'Written'
        Assert-NotMailed $pickup $PasswdLine
    }

    It '..\..\ paths are refused even when they lead to the real bundle' {
        $claim = Get-Claim
        $leaf = Split-Path -Leaf $Evidence.BundlePath
        $parent = Split-Path -Leaf (Split-Path -Parent $Evidence.BundlePath)
        $claim.BundlePath = Join-Path $Evidence.BundlePath "../../$parent/$leaf"
        $claim.BundlePath | Should -Exist
        $claim.Files = @($claim.Files | ForEach-Object { Join-Path $Evidence.BundlePath "../$leaf/$(Split-Path -Leaf $_)" }) + '../../../../../../etc/passwd'
        $pickup = New-Folder 'dotdot'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -BeLike "*bundle path refused (it contains '..')*"
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup -MinimumProof DataAccepted
        Assert-NotMailed $pickup $PasswdLine
    }

    It 'names of files that are not the bundle''s own are not read, next to a real bundle' {
        $claim = Get-Claim
        $claim.Files = @($claim.Files) + '/etc/passwd'
        $pickup = New-Folder 'extra'
        $n = $claim | Send-RelayNotice @Common -PickupDirectory $pickup
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $n.Reason | Should -BeLike '*/etc/passwd is not a file of the evidence bundle, so it is not read or attached*'
        (Get-AttachmentNames $n.EmlPath).Count | Should -Be 3
        Assert-NotMailed $pickup $PasswdLine
    }
}

Describe 'Get-RelayEvidence does not believe a re-imported Proof=Delivered' -Tag Lab, Trust {
    It 'a result claiming Delivered whose message is not there comes back DataAccepted, with the reason' {
        $claim = $OpenResult | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $claim.Proof = 'Delivered'
        $claim.ProbeId = 'omr-20240101-99999999999999999999'   # its message is in no mailbox
        $ev = @($claim | Get-RelayEvidence -MailDrop $Lab.mailDrop)
        $ev.Count | Should -Be 1
        $ev[0].Delivered | Should -BeFalse
        $ev[0].Proof | Should -Be 'DataAccepted'
        $ev[0].Result.Proof | Should -Be 'DataAccepted'
        $ev[0].Reason | Should -BeLike '*the input claimed Proof Delivered, but the message was not found, so Proof is DataAccepted*'
        ($ev[0] | Send-RelayNotice @Common -PickupDirectory (New-Folder 'claimed')).Status | Should -Be 'Skipped'
    }

    It 'the same claim whose message is there is Delivered (it was found, not believed)' {
        $claim = $OpenResult | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $claim.Proof = 'Delivered'
        $ev = $claim | Get-RelayEvidence -MailDrop $Lab.mailDrop
        $ev.Delivered | Should -BeTrue
        $ev.MatchedBy | Should -Not -BeNullOrEmpty
    }
}

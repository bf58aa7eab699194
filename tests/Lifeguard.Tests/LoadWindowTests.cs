namespace Lifeguard.Tests;

/// <summary>The sizing measurements in plain numbers: a clock of 1,000 ticks a second, samples fed by hand.</summary>
public sealed class LoadWindowTests
{
    private const long Frequency = 1000;
    private const long Second = Frequency;
    private const long Sample = Second / LoadWindow.SamplesPerSecond;

    [Fact]
    public void Observe_SteadyLoad_RateAndMeanBusyAndLittlesLawLeaseTime()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(10), Frequency);
        window.Arm(now: 0);

        // Four samples a second for 4 seconds: 2 workers busy throughout, 10 checkouts a second.
        long now = 0;
        for (int i = 0; i <= 4 * LoadWindow.SamplesPerSecond; i++)
        {
            now = i * Sample;
            Assert.True(window.Sample(now, busy: 2, checkouts: 10 * now / Second));
        }

        var observation = window.Observe(now, checkouts: 40);

        Assert.NotNull(observation);
        Assert.Equal(TimeSpan.FromSeconds(4), observation.Window);
        Assert.Equal(10, observation.ArrivalRate, precision: 6);
        Assert.Equal(10, observation.PeakRate, precision: 6);
        Assert.Equal(2, observation.MeanBusy, precision: 6);
        Assert.Equal(TimeSpan.FromMilliseconds(200), observation.MeanLeaseTime); // W = L / λ = 2 / 10 s
    }

    [Fact]
    public void Observe_OneBusySecond_PeakIsThatSecondsRate()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(10), Frequency);
        window.Arm(now: 0);
        long[] checkoutsAtSecond = [0, 5, 10, 40, 45];
        for (int i = 0; i <= 4 * LoadWindow.SamplesPerSecond; i++)
        {
            long now = i * Sample;
            window.Sample(now, busy: 1, checkouts: checkoutsAtSecond[now / Second]);
        }

        var observation = window.Observe(4 * Second, checkouts: 45);

        Assert.NotNull(observation);
        Assert.Equal(45 / 4.0, observation.ArrivalRate, precision: 6);
        Assert.Equal(30, observation.PeakRate, precision: 6);
    }

    [Fact]
    public void Observe_NothingCheckedOutOrUnderASecond_IsNull()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(10), Frequency);
        Assert.Null(window.Observe(now: 0, checkouts: 0));

        window.Arm(now: 0);
        window.Sample(now: 0, busy: 1, checkouts: 0);
        Assert.Null(window.Observe(now: Second / 2, checkouts: 3)); // less than a second covered

        for (int i = 1; i <= 2 * LoadWindow.SamplesPerSecond; i++)
        {
            window.Sample(i * Sample, busy: 1, checkouts: 0);
        }

        Assert.Null(window.Observe(now: 2 * Second, checkouts: 0)); // nothing checked out
    }

    [Fact]
    public void Observe_SnapshotsOlderThanTheWindow_AgeOut()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(3), Frequency);
        window.Arm(now: 0);
        for (int i = 0; i <= 2 * LoadWindow.SamplesPerSecond; i++)
        {
            window.Sample(i * Sample, busy: 1, checkouts: i);
        }

        Assert.NotNull(window.Observe(now: 2 * Second, checkouts: 8));
        Assert.Null(window.Observe(now: 60 * Second, checkouts: 8));
    }

    [Fact]
    public void Sample_QuietForFiveSnapshots_StopsUntilArmedAgain()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(60), Frequency);
        window.Arm(now: 0);
        int samples = 0;
        bool running = true;
        while (running)
        {
            running = window.Sample(samples * Sample, busy: 0, checkouts: 7);
            samples++;
            Assert.True(samples < 100, "sampling stops once the pool is quiet");
        }

        // The snapshot at second 0 and five more with the same checkout count: quiet after the sixth.
        Assert.Equal((LoadWindow.QuietSeconds * LoadWindow.SamplesPerSecond) + 1, samples);
        Assert.False(window.Armed);

        window.Arm(now: samples * Sample);
        Assert.True(window.Armed);
    }

    [Fact]
    public void Arm_AfterEverythingAgedOut_StartsAfresh()
    {
        var window = new LoadWindow(TimeSpan.FromSeconds(2), Frequency);
        window.Arm(now: 0);
        for (int i = 0; i <= 2 * LoadWindow.SamplesPerSecond; i++)
        {
            window.Sample(i * Sample, busy: 4, checkouts: 100 * i);
        }

        window.Arm(now: 100 * Second);
        for (int i = 0; i <= 2 * LoadWindow.SamplesPerSecond; i++)
        {
            window.Sample((100 * Second) + (i * Sample), busy: 1, checkouts: 1600 + i);
        }

        var observation = window.Observe(102 * Second, checkouts: 1608);

        // Only what came after the re-arm: 8 checkouts in 2 seconds, 1 busy (the old busy samples are not in it).
        Assert.NotNull(observation);
        Assert.Equal(4, observation.ArrivalRate, precision: 6);
        Assert.Equal(1, observation.MeanBusy, precision: 6);
    }
}

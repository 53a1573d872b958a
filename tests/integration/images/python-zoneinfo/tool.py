import sys


def zone(name):
    import datetime
    import zoneinfo
    return datetime.datetime(2024, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo(name)).isoformat()


print(zone(sys.argv[2]) if sys.argv[1:2] == ["tz"] else "hello")

/// The demo city, embedded so that `switchboardd` runs with no configuration file.
/// `deploy/switchboard.yaml` holds the same text; a test keeps the two identical.
let demoCityYAML = """
# Switchboard configuration: the demo city of Riverton.
#
# This is the configuration switchboardd embeds and uses when started without --config.
# Copy it, edit it, and start the broker with:  switchboardd --config /etc/switchboard/switchboard.yaml
# The broker checks the whole file at start-up and names the line and field of any mistake.

# The department that triages what no rule matches. Agents claim from its queue, the
# MDP service of the same name.
front_office: front-office

# Every inquiry gets a short case number people can quote (R-1, R-2, ...), given in
# order and never twice; commands take it wherever they take an id.
case_prefix: R-

limits:
  # Longest inquiry text accepted by sb.ingest, in characters.
  max_text_length: 5000
  # Deliveries to workers without an acknowledgement before an inquiry is parked
  # (dead-lettered) for an operator to look at and requeue.
  max_deliveries: 5
  # Flow control: once this many inquiries wait undelivered in a department that has
  # workers connected, the answers to the gateways feeding it wait until the workers
  # catch up, so a gateway cannot outrun them. The inquiries are already stored. A
  # department with no worker connected is never throttled. 0 turns this off.
  max_ready_backlog: 10000

# Response-time targets, measured from arrival (for the inquiry as a whole) and from
# each handoff (for the department holding it). Clocks pause while awaiting the citizen.
# At 80% of a target an sla.warning event is published; at 100% sla.breach, and the
# escalation runs: raise_priority (one step up), move (to a department's queue), or none.
# Targets count around the clock unless they count in a calendar of opening hours:
# define one under calendars and name it, here for every target (calendar: office),
# in a target (urgent: {..., calendar: 24/7}) or in a department's sla. With eight
# opening hours a day, 8h is one working day: a Friday-evening inquiry is due Monday.
#
# calendars:
#   office:
#     time_zone: America/Chicago
#     hours: { monday: 08:00-16:00, tuesday: 08:00-16:00, wednesday: 08:00-16:00,
#              thursday: 08:00-16:00, friday: "08:00-12:00, 13:00-17:00" }
#     holidays: [2026-12-25, 2027-01-01]
sla:
  # calendar: office
  targets:
    urgent: { first_response: 1h, resolution: 8h }
    high:   { first_response: 4h, resolution: 2d }
    normal: { first_response: 1d, resolution: 5d }
    low:    { first_response: 3d, resolution: 10d }
  escalation: { action: raise_priority }

# Contact-centre agents claim inquiries for this long; renew to keep one longer.
agents:
  lease: 15m

# Data protection: a closed inquiry keeps the citizen's personal data (text, handle, name,
# media, replies and notes) this long, then retention removes it and keeps the anonymised
# record (department, platform, priority, times, moves, SLA outcomes) for statistics.
# Open and parked inquiries are never purged. A department may set its own periods
# (retention: under the department). See docs/data-protection.md.
retention:
  closed: 180d
  resolutions: { spam: 30d }
  run_every: 1h

# Each department is a queue, served by MDP workers that register its id as their service.
# Its accounts seed the channel registry on the broker's first start (the front office's
# are shared by the whole city); after that the registry in the database is the source of
# truth, changed through sb.channels.* (see Protocols/6-channel-registry.md).
# ids: lower-case letters, digits, '.', '_' or '-'; the prefixes mmi., sb. and outbound. are reserved.
departments:
  - id: front-office
    name: Contact centre
    # Served by agents claiming from its queue, not by worker processes: no alert pages
    # for its missing workers. (The front office's default; other departments expect
    # workers unless they say workers: false.)
    workers: false
    accounts:
      - { platform: x, handle: "@RivertonCity" }
      - { platform: facebook, handle: "RivertonCityHall" }
      - { platform: mastodon, handle: "@city@riverton.social" }
      - { platform: instagram, handle: "riverton.city" }
      - { platform: youtube, handle: "RivertonCityTV" }
      - { platform: linkedin, handle: "city-of-riverton" }
      - { platform: whatsapp, handle: "+1 555 0100" }
      - { platform: web, handle: "riverton.gov/contact" }
      - { platform: email, handle: "contact@riverton.gov" }
  - id: waste
    name: Waste and recycling
    accounts:
      - { platform: x, handle: "@RivertonWaste" }
  - id: roads
    name: Roads and street lighting
  - id: parks
    name: Parks and green spaces
  - id: water
    name: Water and sewers
    # A department may tighten the targets for some priorities.
    sla:
      urgent: { first_response: 30m, resolution: 4h }
  - id: permits
    name: Building permits and licences
  - id: social-services
    name: Social services
  - id: transport
    name: Public transport

# Rules are tried in order; the first that matches sets the department, priority and tags.
# Every condition given must hold; within a list, one entry is enough. Keywords and
# hashtags ignore case and accents and match whole words.
rules:
  - name: water-emergency
    department: water
    priority: urgent
    tags: [emergency]
    match:
      keywords: ["burst pipe", "flooding", "no water", "sewage", "fuite d'eau"]

  - name: waste-account
    department: waste
    match:
      accounts: ["@RivertonWaste"]

  - name: waste-keywords
    department: waste
    tags: [collection]
    match:
      keywords: [bin, bins, garbage, rubbish, recycling, "bulky waste", trash, poubelle]

  - name: waste-hashtag
    department: waste
    match:
      hashtags: ["#RivertonWaste"]

  - name: streetlights
    department: roads
    priority: high
    tags: [safety]
    match:
      regex: "street ?lights? (is |are )?(out|off|broken)"

  - name: roads
    department: roads
    match:
      keywords: [pothole, potholes, road, pavement, sidewalk, "traffic light"]

  - name: riverside-park
    department: parks
    tags: [riverside]
    match:
      bbox: { min_lat: 51.50, min_lon: -0.13, max_lat: 51.52, max_lon: -0.10 }

  - name: parks
    department: parks
    match:
      keywords: [park, playground, tree, trees, bench]

  - name: permits
    department: permits
    match:
      keywords: [permit, licence, license, planning, construction]

  - name: french-speakers-social
    department: social-services
    match:
      languages: [fr]
      keywords: [aide, logement, allocation]

  - name: social
    department: social-services
    priority: high
    match:
      keywords: [housing, homeless, benefits, "food bank"]

  - name: transport
    department: transport
    match:
      keywords: [bus, tram, timetable, "bus stop"]
      platforms: [x, mastodon, facebook, instagram]

"""

"""Fixed vocabularies the demo network is drawn from: real cities, names, certifications, services.

Plain data only, so the generator stays readable and the data is easy to extend.
"""


def words(text: str) -> list[str]:
    return text.split()


# Continent -> [(ISO country, city, latitude, longitude)], real city-centre coordinates.
CITIES_BY_REGION = {
    "north_america": [
        ("US", "New York", 40.7128, -74.0060),
        ("US", "San Francisco", 37.7749, -122.4194),
        ("US", "Seattle", 47.6062, -122.3321),
        ("US", "Chicago", 41.8781, -87.6298),
        ("US", "Austin", 30.2672, -97.7431),
        ("US", "Boston", 42.3601, -71.0589),
        ("US", "Atlanta", 33.7490, -84.3880),
        ("US", "Dallas", 32.7767, -96.7970),
        ("US", "Denver", 39.7392, -104.9903),
        ("US", "Washington", 38.9072, -77.0369),
        ("US", "Los Angeles", 34.0522, -118.2437),
        ("US", "Miami", 25.7617, -80.1918),
        ("CA", "Toronto", 43.6532, -79.3832),
        ("CA", "Vancouver", 49.2827, -123.1207),
        ("CA", "Montreal", 45.5017, -73.5673),
        ("MX", "Mexico City", 19.4326, -99.1332),
        ("MX", "Monterrey", 25.6866, -100.3161),
    ],
    "south_america": [
        ("BR", "São Paulo", -23.5505, -46.6333),
        ("BR", "Rio de Janeiro", -22.9068, -43.1729),
        ("AR", "Buenos Aires", -34.6037, -58.3816),
        ("CL", "Santiago", -33.4489, -70.6693),
        ("CO", "Bogotá", 4.7110, -74.0721),
        ("PE", "Lima", -12.0464, -77.0428),
        ("UY", "Montevideo", -34.9011, -56.1645),
    ],
    "europe": [
        ("GB", "London", 51.5074, -0.1278),
        ("GB", "Manchester", 53.4808, -2.2426),
        ("GB", "Edinburgh", 55.9533, -3.1883),
        ("IE", "Dublin", 53.3498, -6.2603),
        ("DE", "Berlin", 52.5200, 13.4050),
        ("DE", "Munich", 48.1351, 11.5820),
        ("DE", "Frankfurt", 50.1109, 8.6821),
        ("FR", "Paris", 48.8566, 2.3522),
        ("FR", "Lyon", 45.7640, 4.8357),
        ("NL", "Amsterdam", 52.3676, 4.9041),
        ("ES", "Madrid", 40.4168, -3.7038),
        ("ES", "Barcelona", 41.3874, 2.1686),
        ("IT", "Milan", 45.4642, 9.1900),
        ("SE", "Stockholm", 59.3293, 18.0686),
        ("PL", "Warsaw", 52.2297, 21.0122),
        ("CH", "Zurich", 47.3769, 8.5417),
        ("PT", "Lisbon", 38.7223, -9.1393),
        ("DK", "Copenhagen", 55.6761, 12.5683),
        ("FI", "Helsinki", 60.1699, 24.9384),
        ("BE", "Brussels", 50.8503, 4.3517),
        ("AT", "Vienna", 48.2082, 16.3738),
        ("CZ", "Prague", 50.0755, 14.4378),
        ("NO", "Oslo", 59.9139, 10.7522),
    ],
    "africa": [
        ("ZA", "Johannesburg", -26.2041, 28.0473),
        ("ZA", "Cape Town", -33.9249, 18.4241),
        ("NG", "Lagos", 6.5244, 3.3792),
        ("KE", "Nairobi", -1.2921, 36.8219),
        ("EG", "Cairo", 30.0444, 31.2357),
        ("MA", "Casablanca", 33.5731, -7.5898),
        ("GH", "Accra", 5.6037, -0.1870),
        ("RW", "Kigali", -1.9441, 30.0619),
    ],
    "asia": [
        ("IN", "Bengaluru", 12.9716, 77.5946),
        ("IN", "Mumbai", 19.0760, 72.8777),
        ("IN", "Hyderabad", 17.3850, 78.4867),
        ("IN", "Pune", 18.5204, 73.8567),
        ("IN", "New Delhi", 28.6139, 77.2090),
        ("SG", "Singapore", 1.3521, 103.8198),
        ("JP", "Tokyo", 35.6762, 139.6503),
        ("JP", "Osaka", 34.6937, 135.5023),
        ("KR", "Seoul", 37.5665, 126.9780),
        ("HK", "Hong Kong", 22.3193, 114.1694),
        ("TW", "Taipei", 25.0330, 121.5654),
        ("ID", "Jakarta", -6.2088, 106.8456),
        ("MY", "Kuala Lumpur", 3.1390, 101.6869),
        ("TH", "Bangkok", 13.7563, 100.5018),
        ("VN", "Ho Chi Minh City", 10.8231, 106.6297),
        ("PH", "Manila", 14.5995, 120.9842),
        ("IL", "Tel Aviv", 32.0853, 34.7818),
        ("AE", "Dubai", 25.2048, 55.2708),
        ("SA", "Riyadh", 24.7136, 46.6753),
    ],
    "oceania": [
        ("AU", "Sydney", -33.8688, 151.2093),
        ("AU", "Melbourne", -37.8136, 144.9631),
        ("AU", "Brisbane", -27.4698, 153.0251),
        ("AU", "Perth", -31.9505, 115.8605),
        ("NZ", "Auckland", -36.8485, 174.7633),
        ("NZ", "Wellington", -41.2865, 174.7762),
    ],
}

# Share of headquarters per continent, roughly where the real network's partners are.
REGION_WEIGHTS = {
    "north_america": 32,
    "europe": 28,
    "asia": 22,
    "south_america": 7,
    "oceania": 6,
    "africa": 5,
}

LEGAL_SUFFIXES = {
    "US": "Inc.",
    "CA": "Inc.",
    "MX": "S.A. de C.V.",
    "BR": "Ltda.",
    "AR": "S.A.",
    "CL": "SpA",
    "CO": "S.A.S.",
    "PE": "S.A.C.",
    "UY": "S.A.",
    "GB": "Ltd",
    "IE": "Ltd",
    "DE": "GmbH",
    "AT": "GmbH",
    "CH": "AG",
    "FR": "SAS",
    "NL": "B.V.",
    "BE": "BV",
    "ES": "S.L.",
    "IT": "S.r.l.",
    "SE": "AB",
    "PL": "Sp. z o.o.",
    "PT": "Lda.",
    "DK": "ApS",
    "FI": "Oy",
    "CZ": "s.r.o.",
    "NO": "AS",
    "ZA": "(Pty) Ltd",
    "NG": "Ltd",
    "KE": "Ltd",
    "EG": "S.A.E.",
    "MA": "SARL",
    "GH": "Ltd",
    "RW": "Ltd",
    "IN": "Pvt. Ltd.",
    "SG": "Pte. Ltd.",
    "JP": "K.K.",
    "KR": "Co., Ltd.",
    "HK": "Limited",
    "TW": "Co., Ltd.",
    "ID": "PT",
    "MY": "Sdn. Bhd.",
    "TH": "Co., Ltd.",
    "VN": "JSC",
    "PH": "Inc.",
    "IL": "Ltd",
    "AE": "LLC",
    "SA": "LLC",
    "AU": "Pty Ltd",
    "NZ": "Limited",
}

# A partner's name is one word of each list; 48 x 48 x 44 = 101,376 distinct names before any repeats.
NAME_FIRST_WORDS = words(
    "Blue Silver Golden Northern Southern Eastern Western Bright Cobalt Crimson Scarlet Emerald Amber Ivory "
    "Granite Cedar Polar Evergreen Iron Copper Quantum Stellar Lunar Solar Swift Clear True Bold Open Prime "
    "Noble Royal Rapid Silent Wild Deep High Grand Little Red Green Black White Grey Urban Coastal Alpine "
    "Misty"
)
NAME_SECOND_WORDS = words(
    "Harbor Falcon Summit River Peak Ridge Stone Bridge Lake Forest Mountain Valley Canyon Ocean Island "
    "Meadow Garden Tower Lantern Beacon Anchor Compass Arrow Wave Sky Star Comet Orbit Horizon Fox Wolf Bear "
    "Owl Heron Otter Raven Hawk Lynx Oak Pine Maple Birch Willow Fern Harvest Field Gate Path"
)
NAME_LAST_WORDS = [
    "Cloud",
    "Consulting",
    "Digital",
    "Systems",
    "Technologies",
    "Labs",
    "Solutions",
    "Partners",
    "Analytics",
    "Networks",
    "Software",
    "Data",
    "Security",
    "Group",
    "Works",
    "Engineering",
    "Advisory",
    "IT",
    "Tech",
    "Interactive",
    "Computing",
    "Services",
    "Innovations",
    "Logic",
    "Dynamics",
    "Integration",
    "Infrastructure",
    "Platforms",
    "Insights",
    "Studio",
    "Automation",
    "DevOps",
    "AI",
    "Informatics",
    "Ventures",
    "Collective",
    "Consultancy",
    "Cybersecurity",
    "Applications",
    "Intelligence",
    "Connect",
    "Managed Services",
    "Cloudworks",
    "Data Systems",
]

# Continent -> (first names, family names), so a partner's people look like its home market's.
PEOPLE_NAMES = {
    "north_america": (
        words(
            "James Mary Michael Jennifer Robert Linda David Emily Daniel Sarah Kevin Ashley Brian "
            "Jessica Jose Maria Tyler Hannah Marcus Keisha Andre Olivia Ethan Chloe"
        ),
        words(
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson "
            "Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker"
        ),
    ),
    "south_america": (
        words(
            "Lucas Gabriel Mateo Santiago Valentina Camila Sofia Isabela Rafael Thiago Mariana Fernanda "
            "Diego Juliana Pedro Carolina Bruno Laura Felipe Beatriz"
        ),
        words(
            "Silva Santos Oliveira Souza Pereira Costa Rodrigues Almeida Gomez Fernandez Lopez Diaz "
            "Torres Rojas Vargas Castro Ramirez Morales Herrera Mendes"
        ),
    ),
    "europe": (
        words(
            "Oliver Amelia Lukas Emma Hugo Chloé Liam Sophie Jan Anna Matteo Giulia Lars Ingrid Pierre "
            "Camille Niamh Sean Katarzyna Piotr Elena Javier Freya Jonas"
        ),
        words(
            "Müller Schmidt Schneider Dubois Martin Rossi Russo Jansen Andersson Nilsson Kowalski Nowak "
            "Murphy Kelly García Fernández Novák Hansen Virtanen Peeters Silva Wagner Becker Janssen"
        ),
    ),
    "africa": (
        words(
            "Thabo Naledi Sipho Zanele Chinedu Ngozi Emeka Amara Wanjiru Kamau Amina Youssef Fatima "
            "Kwame Akosua Tendai Nia Omar Aisha Jean"
        ),
        words(
            "Nkosi Dlamini Mokoena Okafor Adeyemi Okonkwo Mwangi Otieno Kariuki Haddad Mansour Mensah "
            "Boateng Asante Moyo Ndlovu Uwimana Habimana Diallo Traoré"
        ),
    ),
    "asia": (
        words(
            "Aarav Priya Rohan Ananya Vikram Kavya Arjun Meera Wei Mei Jun Yuki Haruto Sakura Min-jun "
            "Ji-woo Siti Ahmad Nguyen Linh Rizal Dewi Noa Yael"
        ),
        words(
            "Sharma Patel Iyer Reddy Gupta Nair Chen Wang Lin Tanaka Sato Suzuki Kim Park Lee Tan Lim "
            "Wong Tran Pham Santoso Rahman Cohen Levi"
        ),
    ),
    "oceania": (
        words(
            "Jack Charlotte William Isla Noah Mia Thomas Ruby Lachlan Grace Cooper Zoe Mitchell Tane "
            "Aroha Riley Harper Hamish Matilda Archie"
        ),
        words(
            "Smith Jones Williams Brown Wilson Taylor Anderson Nguyen Thompson Walker White Kelly Ngata "
            "Parata Campbell Robinson Harris Young King Wright"
        ),
    ),
}

# (name, level, family). The family picks the person's job title.
CERTIFICATIONS = [
    ("Cloud Practitioner", "foundational", "general"),
    ("AI Practitioner", "foundational", "ml"),
    ("Solutions Architect - Associate", "associate", "architecture"),
    ("Developer - Associate", "associate", "development"),
    ("SysOps Administrator - Associate", "associate", "operations"),
    ("Data Engineer - Associate", "associate", "data"),
    ("Machine Learning Engineer - Associate", "associate", "ml"),
    ("Solutions Architect - Professional", "professional", "architecture"),
    ("DevOps Engineer - Professional", "professional", "operations"),
    ("Security - Specialty", "specialty", "security"),
    ("Advanced Networking - Specialty", "specialty", "networking"),
    ("Machine Learning - Specialty", "specialty", "ml"),
]

JOB_TITLES = {
    "architecture": ["Solutions Architect", "Cloud Architect", "Principal Architect"],
    "development": ["Software Engineer", "Cloud Developer", "Full-Stack Engineer"],
    "operations": ["DevOps Engineer", "Site Reliability Engineer", "Cloud Operations Engineer"],
    "data": ["Data Engineer", "Analytics Engineer", "Data Architect"],
    "ml": ["Machine Learning Engineer", "Data Scientist", "AI Engineer"],
    "security": ["Security Engineer", "Cloud Security Architect", "Security Consultant"],
    "networking": ["Network Engineer", "Network Architect"],
    "general": ["Account Manager", "Project Manager", "Delivery Manager", "Business Development Manager"],
}

# (slug, name): the industries partners serve and the use cases they deliver.
INDUSTRIES = [
    ("financial-services", "Financial services"),
    ("healthcare-life-sciences", "Healthcare and life sciences"),
    ("retail-consumer-goods", "Retail and consumer goods"),
    ("manufacturing-industrial", "Manufacturing and industrial"),
    ("media-entertainment", "Media and entertainment"),
    ("telecommunications", "Telecommunications"),
    ("energy-utilities", "Energy and utilities"),
    ("public-sector", "Public sector"),
    ("education", "Education"),
    ("travel-hospitality", "Travel and hospitality"),
    ("automotive", "Automotive"),
    ("games", "Games"),
    ("agriculture", "Agriculture"),
]
USE_CASES = [
    ("migration", "Migration and modernisation"),
    ("data-analytics", "Data analytics"),
    ("machine-learning", "Machine learning and generative AI"),
    ("security-compliance", "Security and compliance"),
    ("devops", "DevOps and CI/CD"),
    ("containers", "Containers and Kubernetes"),
    ("serverless", "Serverless applications"),
    ("databases", "Databases"),
    ("storage-backup", "Storage and backup"),
    ("disaster-recovery", "Disaster recovery"),
    ("sap", "SAP on the cloud"),
    ("windows-workloads", "Windows and .NET workloads"),
    ("iot", "Internet of Things"),
    ("hpc", "High-performance computing"),
    ("contact-center", "Contact centre"),
    ("cost-optimisation", "Cost optimisation"),
]

SERVICES = [
    "Amazon EC2",
    "Amazon S3",
    "Amazon RDS",
    "Amazon Aurora",
    "Amazon DynamoDB",
    "AWS Lambda",
    "Amazon EKS",
    "Amazon ECS",
    "Amazon Redshift",
    "AWS Glue",
    "Amazon Athena",
    "Amazon SageMaker",
    "Amazon Bedrock",
    "Amazon CloudFront",
    "AWS Direct Connect",
    "AWS Control Tower",
    "AWS Migration Hub",
    "AWS Database Migration Service",
    "Amazon Connect",
    "AWS IoT Core",
    "AWS Backup",
    "Amazon GuardDuty",
    "AWS Security Hub",
    "Amazon Kinesis",
]

# Customer names: one word of each list, e.g. "Helix Logistics".
CUSTOMER_FIRST_WORDS = words(
    "Helix Aster Nova Vireo Orion Juniper Sable Tundra Zephyr Kestrel Marlow Brightwater Redwood Sterling "
    "Ashford Larkspur Pinnacle Keystone Bluewater Fairview Northgate Riverside Oakridge Highland Sunrise "
    "Seabright Westbrook Clearwater Greenfield Stonebridge"
)
CUSTOMER_SECOND_WORDS = words(
    "Bank Insurance Health Pharma Retail Foods Logistics Airlines Energy Telecom Media Motors Manufacturing "
    "University Hospital Games Hotels Utilities Capital Markets"
)

REFERENCE_SUMMARIES = [
    "Migrated {n} on-premises servers to the cloud in {m} months, cutting hosting costs by {p}%.",
    "Built a data lake and self-service dashboards for {n} analysts, replacing nightly batch reports.",
    "Re-architected a monolith into {n} containerised services, with deployments going from weekly to daily.",
    "Set up a multi-account landing zone with guardrails for {n} teams and centralised security findings.",
    "Launched a generative AI assistant for customer support that resolves {p}% of questions unaided.",
    "Moved the {n}-terabyte data warehouse to a managed service, with queries running {p}% faster.",
    "Delivered a disaster recovery site with a recovery time under {m} hours for the core systems.",
    "Ran the {n}-store e-commerce platform on serverless services through peak season without an outage.",
    "Migrated the SAP estate in {m} months with under a day of downtime.",
    "Connected {n} thousand field devices and built predictive maintenance on their telemetry.",
]

CONTACT_MESSAGES = [
    "We are planning to move our data centre to the cloud within the year and need a migration partner.",
    "Looking for help to modernise a legacy .NET application and run it on containers.",
    "We want to build a data platform for our analytics team. Could we schedule a call?",
    "Our security team needs an assessment of our cloud accounts against industry benchmarks.",
    "We are exploring generative AI for our customer service and would like to discuss a pilot.",
    "We need a managed service provider to operate our production accounts around the clock.",
]

DECLINE_REASONS = [
    "Outside our service area.",
    "We do not have capacity before the requested start date.",
    "The project is too small for our engagement model; we recommended a local partner.",
]

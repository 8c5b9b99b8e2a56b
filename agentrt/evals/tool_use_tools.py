"""The tools of the tool-use suite (`tool_use.py`): everyday tools in a dozen domains, typed the way
users type theirs (`Literal` choices, enums, optional parameters, nested pydantic models, some
`async`), with docstrings as the planner reads them.

Their results are fake and deterministic: no network, clock, randomness or sleeping. A result is
a function of the arguments alone, from a small table or a checksum of the text, so the value a
dependent call should receive (the result of the call it depends on) is fixed, and the suite's
expected arguments can name it. Tools whose result feeds another call return a plain number or
string (an id, a path, an address), as a `$N` reference then passes it whole.
"""

from __future__ import annotations

import math
import re
import statistics
import zlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..registry import Tool, tool


def _checksum(*parts: Any) -> int:
    """A stable number for some text (Python's `hash` changes between processes)."""
    return zlib.crc32("|".join(str(p).strip().lower() for p in parts).encode())


def _key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


# Types the tools share


class Currency(StrEnum):
    """ISO 4217 currency codes."""

    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    JPY = "JPY"
    CHF = "CHF"
    CAD = "CAD"
    AUD = "AUD"
    MXN = "MXN"
    INR = "INR"
    CNY = "CNY"
    SEK = "SEK"
    NOK = "NOK"
    DKK = "DKK"
    PLN = "PLN"
    BRL = "BRL"
    KRW = "KRW"
    SGD = "SGD"
    NZD = "NZD"
    TRY = "TRY"
    THB = "THB"
    ZAR = "ZAR"


class Language(StrEnum):
    """ISO 639-1 language codes."""

    en = "en"
    es = "es"
    fr = "fr"
    de = "de"
    it = "it"
    pt = "pt"
    nl = "nl"
    sv = "sv"
    pl = "pl"
    tr = "tr"
    ru = "ru"
    ar = "ar"
    hi = "hi"
    ja = "ja"
    ko = "ko"
    zh = "zh"


class Address(BaseModel):
    """A postal address."""

    street: str = Field(description="house number and street, e.g. '221 Baker Street'")
    city: str
    postal_code: str
    country: str = Field(default="US", description="country name or code")
    apartment: str | None = Field(default=None, description="apartment, suite or floor, if any")


class Guests(BaseModel):
    """Who stays in a hotel booking."""

    adults: int = Field(default=1, ge=1)
    children: int = Field(default=0, ge=0)
    rooms: int = Field(default=1, ge=1)


TemperatureScale = Literal["celsius", "fahrenheit", "kelvin"]


# Weather

_WEATHER = {
    "london": (14, "light rain", 82), "paris": (18, "partly cloudy", 64), "new york": (22, "sunny", 55),
    "tokyo": (24, "humid and cloudy", 78), "berlin": (12, "overcast", 71), "madrid": (29, "sunny", 30),
    "chicago": (9, "windy", 60), "seattle": (11, "drizzle", 88), "sydney": (19, "clear", 58),
    "lisbon": (23, "sunny", 52), "oslo": (4, "snow showers", 80), "mumbai": (31, "thunderstorms", 84),
    "toronto": (7, "cloudy", 66), "denver": (16, "clear", 28), "miami": (30, "scattered showers", 79),
}
_CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "clear", "windy", "foggy")


def _weather(city: str) -> tuple[int, str, int]:
    key = _key(city)
    known = _WEATHER.get(key) or next((v for k, v in _WEATHER.items() if key.startswith(k + " ")), None)
    if known:
        return known
    n = _checksum(city)
    return n % 30 - 2, _CONDITIONS[n % len(_CONDITIONS)], 30 + n % 60


def _temperature(celsius: float, units: str) -> float:
    return round(celsius * 9 / 5 + 32, 1) if units == "imperial" else celsius


@tool
async def get_current_weather(city: str, units: Literal["metric", "imperial"] = "metric") -> dict[str, Any]:
    """Current weather in a city right now: temperature, conditions, humidity and wind.

    Args:
        city: city name, e.g. "Lisbon" or "Austin, TX"
        units: "metric" for °C and km/h, "imperial" for °F and mph
    """
    celsius, conditions, humidity = _weather(city)
    wind = 5 + _checksum(city, "wind") % 25
    return {"city": city, "temperature": _temperature(celsius, units), "conditions": conditions,
            "humidity_percent": humidity, "wind": round(wind * 0.621, 1) if units == "imperial" else wind}


@tool
def get_forecast(city: str, days: int = 3, units: Literal["metric", "imperial"] = "metric") -> list[dict[str, Any]]:
    """Weather forecast for the next days in a city: daily high, low and chance of rain.

    Args:
        city: city name
        days: how many days ahead, 1 to 10
        units: "metric" (°C) or "imperial" (°F)
    """
    if not 1 <= days <= 10:
        raise ValueError("days must be between 1 and 10")
    celsius, _, _ = _weather(city)
    forecast = []
    for day in range(1, days + 1):
        n = _checksum(city, day)
        high = celsius + n % 5 - 1
        forecast.append({"day": day, "high": _temperature(high, units), "low": _temperature(high - 6 - n % 4, units),
                         "chance_of_rain_percent": n % 10 * 10, "conditions": _CONDITIONS[n % len(_CONDITIONS)]})
    return forecast


@tool
def get_air_quality(city: str) -> dict[str, Any]:
    """Air quality index (AQI) and pollen level in a city today.

    Args:
        city: city name
    """
    aqi = 15 + _checksum(city, "aqi") % 140
    category = "good" if aqi <= 50 else "moderate" if aqi <= 100 else "unhealthy for sensitive groups"
    return {"city": city, "aqi": aqi, "category": category, "pollen": ("low", "medium", "high")[aqi % 3]}


@tool
def get_sun_times(city: str, date: str = "today") -> dict[str, str]:
    """Sunrise and sunset times in a city on a date.

    Args:
        city: city name
        date: "today", "tomorrow", or a date such as 2025-06-21
    """
    n = _checksum(city, date)
    return {"sunrise": f"0{5 + n % 3}:{n % 60:02d}", "sunset": f"{18 + n % 3}:{(n // 60) % 60:02d}"}


# Money

_USD_PER = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0066, "CHF": 1.12, "CAD": 0.73, "AUD": 0.66, "MXN": 0.059,
    "INR": 0.012, "CNY": 0.138, "SEK": 0.095, "NOK": 0.093, "DKK": 0.145, "PLN": 0.25, "BRL": 0.2,
    "KRW": 0.00074, "SGD": 0.74, "NZD": 0.6, "TRY": 0.031, "THB": 0.027, "ZAR": 0.053,
}
_STOCKS = {"AAPL": 189.84, "MSFT": 415.5, "TSLA": 172.63, "NVDA": 880.08, "AMZN": 178.15, "GOOGL": 151.77,
           "META": 496.24, "NFLX": 628.78, "DIS": 111.2, "KO": 60.12, "NKE": 93.4, "SBUX": 87.66}


def _code(currency: Currency | str) -> str:
    return currency.value if isinstance(currency, Currency) else currency


@tool
async def convert_currency(amount: float, from_currency: Currency, to_currency: Currency) -> float:
    """Convert an amount of money from one currency to another at today's rate; returns the converted amount.

    Args:
        amount: how much money, in from_currency
        from_currency: currency code of the amount, e.g. USD, EUR, GBP, JPY
        to_currency: currency code to convert into
    """
    return round(amount * _USD_PER[_code(from_currency)] / _USD_PER[_code(to_currency)], 2)


@tool
def get_exchange_rate(base: Currency, target: Currency) -> float:
    """Today's exchange rate: how many units of the target currency one unit of the base currency buys.

    Args:
        base: currency code, e.g. EUR
        target: currency code, e.g. JPY
    """
    return round(_USD_PER[_code(base)] / _USD_PER[_code(target)], 4)


@tool
def get_stock_price(symbol: str) -> float:
    """Latest share price of a listed company, in US dollars.

    Args:
        symbol: stock ticker symbol, e.g. AAPL for Apple or TSLA for Tesla
    """
    return _STOCKS.get(symbol.strip().upper(), round(20 + _checksum(symbol) % 48000 / 100, 2))


@tool
def split_bill(total: float, people: int, tip_percent: float = 0.0) -> float:
    """Split a bill evenly: each person's share, tip included.

    Args:
        total: the bill before tip
        people: how many people pay
        tip_percent: tip to add, in percent (e.g. 15); none by default
    """
    if people < 1:
        raise ValueError("people must be at least 1")
    return round(total * (1 + tip_percent / 100) / people, 2)


@tool
def log_expense(
    amount: float,
    category: Literal["food", "groceries", "transport", "housing", "utilities", "entertainment", "health",
                      "shopping", "travel", "other"],
    note: str | None = None,
    currency: Currency = Currency.USD,
) -> str:
    """Record an expense in the user's budget tracker; returns the expense's id.

    Args:
        amount: how much was spent
        category: budget category of the expense
        note: a short description, e.g. "dinner with Sam"
        currency: currency of the amount (US dollars unless the user says otherwise)
    """
    return f"EXP-{_checksum(amount, category, note, _code(currency)) % 90000 + 10000}"


@tool
def get_account_balance(account: Literal["checking", "savings", "credit_card"] = "checking") -> float:
    """Current balance of one of the user's bank accounts, in US dollars.

    Args:
        account: which account
    """
    return {"checking": 2481.37, "savings": 15820.0, "credit_card": -642.18}[account]


# Calendar

_EVENTS = {
    "dentist": "EVT-2207", "standup": "EVT-1001", "team meeting": "EVT-1140", "book club": "EVT-3318",
    "yoga": "EVT-4410", "dinner": "EVT-5127", "haircut": "EVT-6032", "interview": "EVT-7785",
    "doctor": "EVT-2290", "lunch": "EVT-5190", "1 1": "EVT-1163", "review": "EVT-8120",
}


@tool
def create_event(
    title: str,
    date: str,
    start_time: str,
    duration_minutes: int = 60,
    attendees: list[str] | None = None,
    location: str | None = None,
) -> str:
    """Add an event to the user's calendar; returns the new event's id.

    Args:
        title: short name of the event, e.g. "Lunch with Priya"
        date: the day: "today", "tomorrow", a weekday such as "friday", or a date such as 2025-05-14
        start_time: when it starts, 24-hour HH:MM, e.g. 14:30
        duration_minutes: how long it lasts
        attendees: names or emails of people to invite
        location: where it takes place
    """
    return f"EVT-{_checksum(title, date, start_time) % 9000 + 1000}"


@tool
def list_events(date: str = "today") -> list[dict[str, str]]:
    """The events on the user's calendar on one day.

    Args:
        date: "today", "tomorrow", a weekday such as "monday", or a date such as 2025-05-14
    """
    n = _checksum(date)
    titles = ("Standup", "Team meeting", "Lunch with Sam", "Dentist", "Yoga", "Project review", "1:1 with Dana")
    return [{"time": f"{9 + (n >> i) % 9:02d}:{15 * ((n >> i) % 4):02d}", "title": titles[(n >> (3 * i)) % len(titles)]}
            for i in range(1 + n % 3)]


@tool
def find_free_slot(date: str, duration_minutes: int = 30) -> str:
    """The earliest free time on the user's calendar on a day for something that long; returns its start, HH:MM.

    Args:
        date: "today", "tomorrow", a weekday such as "thursday", or a date such as 2025-05-14
        duration_minutes: how much time is needed
    """
    n = _checksum(date, duration_minutes)
    return f"{10 + n % 7}:{('00', '30')[n % 2]}"


@tool
def find_event(query: str) -> str:
    """Find the next event on the user's calendar whose title matches some words; returns its event id.

    Args:
        query: words from the event's title, e.g. "dentist"
    """
    words = _key(query)
    for name, event_id in _EVENTS.items():
        if name in words:
            return event_id
    return f"EVT-{_checksum(words) % 9000 + 1000}"


@tool
def cancel_event(event_id: str, notify_attendees: bool = True) -> str:
    """Cancel an event on the user's calendar by its id (as find_event returns it).

    Args:
        event_id: the event's id, e.g. EVT-2207
        notify_attendees: whether to tell the other attendees
    """
    return f"Cancelled {event_id}"


@tool
def set_reminder(message: str, time: str, date: str = "today") -> str:
    """Remind the user of something at a time; returns the reminder's id.

    Args:
        message: what to remind the user of
        time: when, 24-hour HH:MM, e.g. 18:00
        date: "today", "tomorrow", a weekday, or a date such as 2025-05-14
    """
    return f"REM-{_checksum(message, time, date) % 9000 + 1000}"


# Orders and shopping

_ORDERS = {
    "headphones": "ORD-58213", "shoes": "ORD-58114", "sneakers": "ORD-58114", "laptop": "ORD-57730",
    "phone case": "ORD-58402", "coffee": "ORD-58377", "book": "ORD-58290", "lamp": "ORD-57995",
    "jacket": "ORD-58021", "blender": "ORD-57812", "charger": "ORD-58455", "mattress": "ORD-57604",
    "printer": "ORD-58166", "toy": "ORD-58333", "vacuum": "ORD-57941", "monitor": "ORD-58208",
}
_STATUSES = ("processing", "shipped", "out for delivery", "delivered")


@tool
def find_order(item: str) -> str:
    """Find the user's most recent order that contains an item; returns the order id.

    Args:
        item: what was ordered, e.g. "headphones"
    """
    words = _key(item)
    for name, order_id in _ORDERS.items():
        if name in words or words in name:
            return order_id
    return f"ORD-{_checksum(words) % 90000 + 10000}"


@tool
async def get_order_status(order_id: str) -> dict[str, str]:
    """Status of an order: processing, shipped, out for delivery or delivered, with its tracking number.

    Args:
        order_id: the order's id, e.g. ORD-58213
    """
    n = _checksum(order_id.upper())
    return {"order_id": order_id, "status": _STATUSES[n % 4], "tracking_number": f"1Z{n % 10**8:08d}",
            "expected_delivery": ("monday", "tuesday", "wednesday", "thursday", "friday")[n % 5]}


@tool
def track_package(tracking_number: str, carrier: Literal["auto", "ups", "fedex", "usps", "dhl"] = "auto") -> str:
    """Where a parcel is now, from its carrier's tracking number.

    Args:
        tracking_number: the carrier's tracking number
        carrier: the shipping company; "auto" guesses it from the number
    """
    places = ("Memphis, TN", "Louisville, KY", "the local depot", "out for delivery")
    return f"{tracking_number}: {places[_checksum(tracking_number) % 4]}"


@tool
def cancel_order(
    order_id: str,
    reason: Literal["changed_mind", "found_cheaper", "too_slow", "ordered_by_mistake", "other"] = "other",
) -> str:
    """Cancel an order that has not shipped yet.

    Args:
        order_id: the order's id, e.g. ORD-58213
        reason: why the user cancels
    """
    return f"Order {order_id} cancelled"


@tool
def return_item(
    order_id: str,
    reason: Literal["damaged", "wrong_item", "doesnt_fit", "not_as_described", "no_longer_needed"],
    refund_to: Literal["original_payment", "store_credit"] = "original_payment",
) -> str:
    """Start a return for a delivered order and get a prepaid return label.

    Args:
        order_id: the order's id, e.g. ORD-58213
        reason: why it goes back
        refund_to: where the refund goes
    """
    return f"Return RMA-{_checksum(order_id, reason) % 90000 + 10000} opened for {order_id}"


@tool
def update_shipping_address(order_id: str, address: Address) -> str:
    """Change where an order that has not shipped yet will be delivered.

    Args:
        order_id: the order's id, e.g. ORD-58213
        address: the new delivery address
    """
    return f"{order_id} will ship to {address.street}, {address.city} {address.postal_code}"


@tool
def search_products(
    query: str,
    max_price: float | None = None,
    sort_by: Literal["relevance", "price_low_to_high", "price_high_to_low", "rating"] = "relevance",
) -> list[dict[str, Any]]:
    """Search the online store's catalogue; returns matching products with price and rating.

    Args:
        query: what to look for, e.g. "wireless earbuds"
        max_price: highest price in US dollars, if the user gives one
        sort_by: order of the results
    """
    n = _checksum(query)
    cap = max_price if max_price is not None else 400.0
    return [{"name": f"{query.title()} {model}", "price": round(min(cap, 15 + (n >> i) % 300) * 0.97, 2),
             "rating": 3.5 + (n >> i) % 15 / 10} for i, model in enumerate(("Lite", "Pro", "Max"))]


# Files

_FILES = {
    "tax": "/Documents/Taxes/2023_tax_return.pdf", "resume": "/Documents/Career/resume_2024.docx",
    "cv": "/Documents/Career/resume_2024.docx", "budget": "/Documents/Finance/budget_2024.xlsx",
    "lease": "/Documents/Home/apartment_lease.pdf", "passport": "/Pictures/Scans/passport_scan.jpg",
    "invoice": "/Documents/Work/invoice_march.pdf", "slides": "/Documents/Work/q3_review_slides.pptx",
    "wedding": "/Pictures/2023/wedding_album.zip", "contract": "/Documents/Work/contract_signed.pdf",
    "recipe": "/Documents/Recipes/grandmas_lasagna.docx", "insurance": "/Documents/Car/insurance_policy.pdf",
    "notes": "/Documents/School/lecture_notes.docx", "thesis": "/Documents/School/thesis_draft_v3.docx",
}


@tool
def search_files(
    query: str,
    file_type: Literal["any", "pdf", "document", "spreadsheet", "presentation", "image"] = "any",
) -> str:
    """Search the user's files by name and content; returns the path of the best match.

    Args:
        query: words in the file's name or text, e.g. "tax return"
        file_type: only files of this kind
    """
    words = _key(query)
    for name, path in _FILES.items():
        if name in words.split(" ") or name in words:
            return path
    return f"/Documents/{words.replace(' ', '_') or 'untitled'}.pdf"


@tool
def share_file(path: str, email: str, permission: Literal["view", "comment", "edit"] = "view") -> str:
    """Share one of the user's files with someone by email; returns the sharing link.

    Args:
        path: the file's path, e.g. /Documents/report.pdf
        email: the email address to share with
        permission: what they may do with it
    """
    return f"https://files.example.com/s/{_checksum(path, email) % 10**6:06d}"


@tool
def move_file(path: str, destination_folder: str) -> str:
    """Move a file into another folder; returns its new path.

    Args:
        path: the file's path
        destination_folder: folder to move it into, e.g. /Documents/Archive
    """
    return destination_folder.rstrip("/") + "/" + path.rsplit("/", 1)[-1]


@tool
def delete_file(path: str, permanently: bool = False) -> str:
    """Delete a file (to the trash, unless permanently).

    Args:
        path: the file's path
        permanently: skip the trash
    """
    return f"Deleted {path}"


@tool
def create_zip(paths: list[str], archive_name: str) -> str:
    """Pack files into one zip archive; returns the archive's path.

    Args:
        paths: the files' paths
        archive_name: file name of the archive, e.g. "photos.zip"
    """
    return f"/Documents/{archive_name}"


# Search and discovery


@tool
async def search_news(topic: str, days: int = 7) -> list[dict[str, str]]:
    """Latest news headlines about a topic.

    Args:
        topic: what the news is about, e.g. "electric cars"
        days: only news from the last this many days
    """
    n = _checksum(topic)
    return [{"headline": f"{topic.title()}: {h}", "source": s}
            for h, s in zip(("what changed this week", "analysts weigh in", "a closer look")[: 1 + n % 3],
                            ("Reuters", "AP", "BBC"), strict=False)]


@tool
def search_recipes(
    ingredients: list[str],
    diet: Literal["any", "vegetarian", "vegan", "gluten_free", "keto"] = "any",
    max_minutes: int | None = None,
) -> list[dict[str, Any]]:
    """Recipes that use some ingredients, optionally for a diet and a time limit.

    Args:
        ingredients: ingredients to cook with, e.g. ["chicken", "rice"]
        diet: dietary restriction
        max_minutes: longest total cooking time
    """
    main = ingredients[0] if ingredients else "pantry"
    return [{"title": f"{main.title()} {dish}", "minutes": 15 + _checksum(main, dish) % 45}
            for dish in ("stir-fry", "bake", "salad")]


@tool
def find_restaurants(
    location: str,
    cuisine: str | None = None,
    price: Literal["any", "cheap", "moderate", "expensive"] = "any",
    open_now: bool = False,
) -> list[dict[str, Any]]:
    """Restaurants near a place, optionally by cuisine, price and whether they are open now.

    Args:
        location: neighbourhood, city or address
        cuisine: kind of food, e.g. "thai"
        price: price range
        open_now: only places open right now
    """
    n = _checksum(location, cuisine)
    return [{"name": name, "rating": 4 + (n >> i) % 10 / 10} for i, name in
            enumerate(("The Corner Table", "Little Saigon", "Casa Verde")[: 1 + n % 3])]


@tool
def get_showtimes(movie: str, city: str, date: str = "today") -> list[str]:
    """Cinema showtimes of a film in a city.

    Args:
        movie: the film's title
        city: city or neighbourhood
        date: "today", "tomorrow", a weekday, or a date such as 2025-05-14
    """
    n = _checksum(movie, city, date)
    return [f"{14 + (n >> i) % 8}:{('00', '15', '30', '45')[(n >> i) % 4]}" for i in range(3)]


# Units and time

_UNIT_FACTORS = {
    # length, metres
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0), "km": ("length", 1000.0),
    "in": ("length", 0.0254), "ft": ("length", 0.3048), "yd": ("length", 0.9144), "mi": ("length", 1609.344),
    # mass, kilograms
    "g": ("mass", 0.001), "kg": ("mass", 1.0), "oz": ("mass", 0.0283495), "lb": ("mass", 0.453592),
    "st": ("mass", 6.35029),
    # volume, litres
    "ml": ("volume", 0.001), "l": ("volume", 1.0), "cup": ("volume", 0.236588), "tbsp": ("volume", 0.0147868),
    "tsp": ("volume", 0.00492892), "fl_oz": ("volume", 0.0295735), "gal": ("volume", 3.78541),
    # speed, km/h
    "kmh": ("speed", 1.0), "mph": ("speed", 1.609344), "knot": ("speed", 1.852),
}
_UNIT_NAMES = {
    "millimeter": "mm", "millimetre": "mm", "centimeter": "cm", "centimetre": "cm", "meter": "m", "metre": "m",
    "kilometer": "km", "kilometre": "km", "inch": "in", "inches": "in", "foot": "ft", "feet": "ft", "yard": "yd",
    "mile": "mi", "miles": "mi", "gram": "g", "kilogram": "kg", "kilo": "kg", "ounce": "oz", "pound": "lb",
    "lbs": "lb", "stone": "st", "milliliter": "ml", "millilitre": "ml", "liter": "l", "litre": "l", "cups": "cup",
    "tablespoon": "tbsp", "teaspoon": "tsp", "gallon": "gal", "km/h": "kmh", "kph": "kmh", "knots": "knot",
}


def _unit(name: str) -> tuple[str, float]:
    text = name.strip().lower()
    text = _UNIT_NAMES.get(text, _UNIT_NAMES.get(text.rstrip("s"), text))
    if text not in _UNIT_FACTORS:
        raise ValueError(f"unknown unit {name!r}; use one of {', '.join(_UNIT_FACTORS)}")
    return _UNIT_FACTORS[text]


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length, weight, volume or speed between units; returns the converted value.

    Args:
        value: the quantity to convert
        from_unit: unit of the value: mm, cm, m, km, in, ft, yd, mi, g, kg, oz, lb, st, ml, l, cup, tbsp,
            tsp, fl_oz, gal, kmh, mph or knot
        to_unit: unit to convert into, from the same list
    """
    (kind, factor), (to_kind, to_factor) = _unit(from_unit), _unit(to_unit)
    if kind != to_kind:
        raise ValueError(f"cannot convert {kind} to {to_kind}")
    return round(value * factor / to_factor, 3)


@tool
def convert_temperature(value: float, from_scale: TemperatureScale, to_scale: TemperatureScale) -> float:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: the temperature
        from_scale: scale of the value
        to_scale: scale to convert into
    """
    celsius = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[from_scale]
    return round({"celsius": celsius, "fahrenheit": celsius * 9 / 5 + 32, "kelvin": celsius + 273.15}[to_scale], 2)


_UTC_OFFSET = {
    "london": 0, "lisbon": 0, "paris": 1, "berlin": 1, "madrid": 1, "rome": 1, "oslo": 1, "new york": -5,
    "boston": -5, "toronto": -5, "chicago": -6, "denver": -7, "los angeles": -8, "san francisco": -8,
    "seattle": -8, "tokyo": 9, "seoul": 9, "sydney": 10, "dubai": 4, "mumbai": 5.5, "delhi": 5.5,
    "singapore": 8, "hong kong": 8, "beijing": 8, "sao paulo": -3, "mexico city": -6, "cairo": 2,
    "istanbul": 3, "moscow": 3, "auckland": 12, "honolulu": -10,
}
_NOW_UTC_MINUTES = 14 * 60 + 5  # the fake clock: 14:05 UTC


def _offset(city: str) -> float:
    key = _key(city)
    return _UTC_OFFSET.get(key, _UTC_OFFSET.get(key.split(" ")[0], (_checksum(key) % 25) - 12))


def _clock(minutes: float) -> str:
    minutes = int(minutes) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@tool
def get_local_time(city: str) -> str:
    """The current local time in a city, HH:MM (24-hour).

    Args:
        city: city name
    """
    return _clock(_NOW_UTC_MINUTES + 60 * _offset(city))


@tool
def convert_time_zone(time: str, from_city: str, to_city: str) -> str:
    """What a clock time in one city is in another city's time zone, HH:MM (24-hour).

    Args:
        time: the time in from_city, 24-hour HH:MM, e.g. 09:30
        from_city: city whose time is given
        to_city: city whose time is wanted
    """
    match = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*", time)
    if not match:
        raise ValueError(f"time {time!r} is not HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2) or 0)
    return _clock(minutes + 60 * (_offset(to_city) - _offset(from_city)))


# Text

_PHRASES = {
    ("good morning", "es"): "buenos días", ("good morning", "fr"): "bonjour", ("good morning", "de"): "guten Morgen",
    ("thank you", "es"): "gracias", ("thank you", "ja"): "ありがとう", ("thank you", "it"): "grazie",
    ("where is the train station", "fr"): "où est la gare", ("where is the train station", "de"): "wo ist der Bahnhof",
    ("happy birthday", "pt"): "feliz aniversário", ("happy birthday", "es"): "feliz cumpleaños",
    ("i love you", "fr"): "je t'aime", ("cheers", "de"): "prost", ("see you tomorrow", "es"): "hasta mañana",
    ("how much does this cost", "it"): "quanto costa", ("the bill please", "fr"): "l'addition s'il vous plaît",
}
_MISSPELLINGS = {
    "recieve": "receive", "definately": "definitely", "seperate": "separate", "occured": "occurred",
    "untill": "until", "wich": "which", "tommorow": "tomorrow", "accomodate": "accommodate", "thier": "their",
    "beleive": "believe", "goverment": "government", "wierd": "weird", "alot": "a lot", "truely": "truly",
    "calender": "calendar", "neccessary": "necessary", "adress": "address", "begining": "beginning",
}
_DEFINITIONS = {
    "serendipity": "the occurrence of happy events by chance",
    "ubiquitous": "present, appearing, or found everywhere",
    "ephemeral": "lasting for a very short time",
    "petrichor": "the pleasant smell after rain falls on dry ground",
    "sonder": "the realization that each passer-by has a life as vivid as your own",
}


@tool
def translate_text(text: str, target_language: Language, source_language: Language | None = None) -> str:
    """Translate text into another language; returns the translation.

    Args:
        text: the text to translate
        target_language: language code to translate into, e.g. es for Spanish, fr for French, ja for Japanese
        source_language: language code of the text; detected when not given
    """
    code = target_language.value if isinstance(target_language, Language) else target_language
    return _PHRASES.get((_key(text), code), f"[{code}] {text}")


@tool
def summarize_text(text: str, max_sentences: int = 2) -> str:
    """Shorten a text to its first few sentences.

    Args:
        text: the text to summarize
        max_sentences: how many sentences to keep
    """
    return " ".join(re.split(r"(?<=[.!?])\s+", text.strip())[:max_sentences])


@tool
def count_words(text: str) -> int:
    """Count the words in a text.

    Args:
        text: the text
    """
    return len(text.split())


@tool
def fix_spelling(text: str) -> str:
    """Correct common spelling mistakes in a text; returns the corrected text.

    Args:
        text: the text to correct
    """
    return re.sub(r"[A-Za-z]+", lambda m: _MISSPELLINGS.get(m.group(0).lower(), m.group(0)), text)


@tool
def define_word(word: str) -> str:
    """Dictionary definition of an English word.

    Args:
        word: the word to look up
    """
    return _DEFINITIONS.get(word.strip().lower(), f"{word}: (noun) a word whose definition is not in this dictionary")


@tool
def detect_language(text: str) -> str:
    """Which language a text is written in; returns its language code.

    Args:
        text: the text
    """
    accents = {"ñ": Language.es, "¿": Language.es, "ç": Language.fr, "è": Language.fr, "ß": Language.de,
               "ü": Language.de, "ã": Language.pt, "å": Language.sv, "ł": Language.pl, "ę": Language.pl}
    return next((code for mark, code in accents.items() if mark in text.lower()), Language.en).value


# Maths


@tool
def solve_quadratic(a: float, b: float, c: float) -> list[float]:
    """Real roots of the equation a*x^2 + b*x + c = 0, smallest first (none when there are none).

    Args:
        a: coefficient of x^2
        b: coefficient of x
        c: constant term
    """
    if a == 0:
        return [] if b == 0 else [round(-c / b, 6)]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    roots = {round((-b - math.sqrt(disc)) / (2 * a), 6), round((-b + math.sqrt(disc)) / (2 * a), 6)}
    return sorted(roots)


@tool
def compute_statistics(
    numbers: list[float],
    measures: list[Literal["mean", "median", "mode", "stdev", "min", "max", "sum", "range"]] | None = None,
) -> dict[str, float]:
    """Summary statistics of a list of numbers: mean, median, standard deviation and so on.

    Args:
        numbers: the numbers
        measures: which statistics; all of them when not given
    """
    if not numbers:
        raise ValueError("no numbers given")
    every: dict[str, Callable[[list[float]], float]] = {
        "mean": statistics.mean, "median": statistics.median, "mode": statistics.mode,
        "stdev": lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0, "min": min, "max": max,
        "sum": sum, "range": lambda xs: max(xs) - min(xs)}
    chosen: list[str] = list(measures) if measures else list(every)
    return {m: round(float(every[m](numbers)), 4) for m in chosen}


@tool
def percent_change(old_value: float, new_value: float) -> float:
    """Percentage change from an old value to a new one (negative for a decrease).

    Args:
        old_value: the value before
        new_value: the value after
    """
    if old_value == 0:
        raise ValueError("old_value is 0: the change has no percentage")
    return round((new_value - old_value) / abs(old_value) * 100, 2)


@tool
async def is_prime(number: int) -> bool:
    """Whether a whole number is prime.

    Args:
        number: the number to test
    """
    return number > 1 and all(number % d for d in range(2, math.isqrt(number) + 1))


@tool
def convert_number_base(number: str, from_base: int, to_base: int) -> str:
    """Write a whole number in another base, e.g. decimal to binary or hexadecimal.

    Args:
        number: the number's digits in from_base, e.g. "255" or "ff"
        from_base: base of the given digits, 2 to 36 (10 for decimal)
        to_base: base to write it in, 2 to 36
    """
    value, digits, out = int(number.strip(), from_base), "0123456789abcdefghijklmnopqrstuvwxyz", ""
    while True:
        value, rest = divmod(value, to_base)
        out = digits[rest] + out
        if value == 0:
            return out


# Messages and contacts

_CONTACTS = {
    "maria": ("maria.lopez@example.com", "+1 415 555 0142"), "john": ("john.baker@example.com", "+1 312 555 0198"),
    "priya": ("priya.n@example.com", "+44 20 7946 0321"), "tom": ("tom.h@example.com", "+1 646 555 0107"),
    "mom": ("linda.mom@example.com", "+1 503 555 0166"), "dana": ("dana.k@example.com", "+1 206 555 0113"),
    "alex": ("alex.chen@example.com", "+1 617 555 0175"), "sam": ("sam.okafor@example.com", "+1 718 555 0130"),
    "jess": ("jess.m@example.com", "+1 773 555 0181"), "kenji": ("kenji.sato@example.com", "+81 3 5555 0144"),
    "landlord": ("rentals@oakproperty.example.com", "+1 503 555 0190"),
    "boss": ("r.meyer@example.com", "+1 212 555 0101"),
}


@tool
def find_contact(name: str, field: Literal["email", "phone"] = "email") -> str:
    """Look up someone in the user's contacts; returns their email address or phone number.

    Args:
        name: the contact's name, e.g. "Maria"
        field: which detail to return
    """
    words = _key(name).split(" ")
    found = next((v for k, v in _CONTACTS.items() if k in words), None)
    if found is None:
        slug = "".join(words) or "contact"
        found = (f"{slug}@example.com", f"+1 555 01{_checksum(slug) % 100:02d}")
    return found[0] if field == "email" else found[1]


@tool
async def send_email(to: str, body: str, subject: str | None = None, cc: list[str] | None = None) -> str:
    """Send an email from the user's account.

    Args:
        to: recipient's email address
        body: the message text
        subject: the subject line
        cc: addresses to copy in
    """
    return f"Email sent to {to}"


@tool
def send_text_message(to: str, message: str) -> str:
    """Send a text message (SMS) to a contact's name or a phone number.

    Args:
        to: contact name or phone number
        message: the text to send
    """
    return f"Text sent to {to}"


@tool
def post_to_channel(channel: str, message: str, notify_everyone: bool = False) -> str:
    """Post a message in a team chat channel, e.g. #general.

    Args:
        channel: channel name, e.g. "general"
        message: the text to post
        notify_everyone: mention @everyone in the channel
    """
    return f"Posted in #{channel.lstrip('#')}"


# Travel


@tool
async def search_flights(
    origin: str,
    destination: str,
    date: str,
    passengers: int = 1,
    cabin: Literal["economy", "premium_economy", "business", "first"] = "economy",
    nonstop_only: bool = False,
) -> list[dict[str, Any]]:
    """Search flights between two cities on a date; returns options with times and prices.

    Args:
        origin: departure city or airport code
        destination: arrival city or airport code
        date: departure date, e.g. 2025-07-04, "tomorrow" or "friday"
        passengers: number of travellers
        cabin: travel class
        nonstop_only: only direct flights
    """
    n = _checksum(origin, destination, date)
    return [{"flight": f"{('UA', 'DL', 'BA', 'LH')[(n >> i) % 4]}{100 + (n >> i) % 900}",
             "departs": f"{6 + (n >> i) % 14:02d}:{('05', '35', '50')[(n >> i) % 3]}",
             "price_usd": (120 + (n >> i) % 600) * passengers, "stops": 0 if nonstop_only else (n >> i) % 2}
            for i in range(3)]


@tool
def book_hotel(city: str, check_in: str, nights: int, guests: Guests | None = None,
                max_price_per_night: float | None = None) -> str:
    """Book a hotel room in a city; returns the booking reference.

    Args:
        city: city to stay in
        check_in: arrival date, e.g. 2025-07-04, "tomorrow" or "friday"
        nights: how many nights
        guests: how many adults, children and rooms (1 adult, 1 room by default)
        max_price_per_night: budget per night in US dollars
    """
    return f"HTL-{_checksum(city, check_in, nights) % 90000 + 10000}"



@tool
def get_directions(
    origin: str, destination: str, mode: Literal["driving", "walking", "transit", "cycling"] = "driving"
) -> dict[str, Any]:
    """Route between two places: distance, travel time and the first steps.

    Args:
        origin: starting place or address
        destination: where to go
        mode: how to travel
    """
    km = 1 + _checksum(origin, destination) % 40
    speed = {"driving": 45, "walking": 5, "transit": 25, "cycling": 15}[mode]
    return {"distance_km": km, "minutes": round(km / speed * 60), "via": "Main St"}


# Smart home


@tool
def set_thermostat(temperature: float, mode: Literal["heat", "cool", "auto"] = "auto", room: str | None = None) -> str:
    """Set the home thermostat's target temperature (in the home's usual unit).

    Args:
        temperature: target temperature
        mode: heating, cooling, or automatic
        room: which room's thermostat; the main one when not given
    """
    return f"Thermostat{' in ' + room if room else ''} set to {temperature:g} ({mode})"


@tool
def control_lights(room: str, action: Literal["on", "off", "dim"], brightness_percent: int | None = None) -> str:
    """Turn the lights in a room on or off, or dim them.

    Args:
        room: the room, e.g. "kitchen"
        action: what to do
        brightness_percent: brightness from 1 to 100, when dimming
    """
    return f"{room} lights {action}"


@tool
def set_timer(minutes: int, seconds: int = 0, label: str | None = None) -> str:
    """Start a countdown timer.

    Args:
        minutes: whole minutes
        seconds: extra seconds
        label: what the timer is for, e.g. "pasta"
    """
    return f"Timer set for {minutes}m{seconds:02d}s"


@tool
def play_music(
    query: str,
    speaker: Literal["phone", "living_room", "kitchen", "bedroom"] = "phone",
    shuffle: bool = False,
) -> str:
    """Play a song, artist, album, genre or playlist.

    Args:
        query: what to play, e.g. "Taylor Swift" or "lofi beats"
        speaker: where to play it
        shuffle: play in random order
    """
    return f"Playing {query} on {speaker}"


DOMAINS: dict[str, list[Tool]] = {
    "weather": [get_current_weather, get_forecast, get_air_quality, get_sun_times],
    "money": [convert_currency, get_exchange_rate, get_stock_price, split_bill, log_expense, get_account_balance],
    "calendar": [create_event, list_events, find_free_slot, find_event, cancel_event, set_reminder],
    "orders": [find_order, get_order_status, track_package, cancel_order, return_item, update_shipping_address,
               search_products],
    "files": [search_files, share_file, move_file, delete_file, create_zip],
    "search": [search_news, search_recipes, find_restaurants, get_showtimes],
    "units": [convert_units, convert_temperature, get_local_time, convert_time_zone],
    "text": [translate_text, summarize_text, count_words, fix_spelling, define_word, detect_language],
    "maths": [solve_quadratic, compute_statistics, percent_change, is_prime, convert_number_base],
    "messages": [find_contact, send_email, send_text_message, post_to_channel],
    "travel": [search_flights, book_hotel, get_directions],
    "home": [set_thermostat, control_lights, set_timer, play_music],
}
"""Every tool of the suite, by domain."""

TOOLS: dict[str, Tool] = {t.name: t for tools in DOMAINS.values() for t in tools}
"""Every tool of the suite, by name, in domain order (the order an item's agent gets them in)."""
